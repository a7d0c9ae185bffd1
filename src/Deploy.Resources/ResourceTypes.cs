using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>The built-in resource types' Pulumi-style type tokens.</summary>
public static class ResourceTypes
{
    public const string File = "nfdeploy:fs:File";
    public const string Directory = "nfdeploy:fs:Directory";
    public const string Package = "nfdeploy:apt:Package";
    public const string AptKey = "nfdeploy:apt:Key";
    public const string AptRepository = "nfdeploy:apt:Repository";
    public const string Hostname = "nfdeploy:host:Hostname";
    public const string Service = "nfdeploy:svc:Service";
    public const string SqlSchema = "nfdeploy:sql:Schema";
    public const string SqlUser = "nfdeploy:sql:User";
    public const string SqlRow = "nfdeploy:sql:Row";
    public const string Certificate = "nfdeploy:tls:Certificate";
}
