using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Deploy.Transport.Tests")]
