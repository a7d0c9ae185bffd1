using System.Globalization;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>
/// A file's backups (<c>&lt;file&gt;.&lt;run&gt;.nfd~</c>, the run being its UTC time yyyyMMddHHmmss, so that names sort
/// by age): this run's is made once, then the older ones beyond <see cref="FileSpec.BackupKeep"/> or older than
/// <see cref="FileSpec.BackupMaxAgeDays"/> are removed on the host (they may hold old passwords). This run's backup is
/// never removed: a rollback needs it.
/// </summary>
internal static class Backups
{
    public static string Name(FileSpec f, string runId) => $"{f.Path}.{runId}.nfd~";

    /// <summary>Shell (with <c>$p</c> the file) that makes this run's backup and prunes the old ones.</summary>
    public static string Script(FileSpec f, string runId)
    {
        if (!f.Backup) return "";
        var mine = Sh.Quote(Name(f, runId));
        var now = DateTime.TryParseExact(runId, "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t : DateTime.UtcNow;
        var cutoff = now.AddDays(-Math.Max(1, f.BackupMaxAgeDays)).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        return $$"""
            if [ -f "$p" ] && [ ! -e {{mine}} ]; then cp -p "$p" {{mine}}; fi
            keep={{Math.Max(1, f.BackupKeep)}}; cutoff={{cutoff}}; mine={{mine}}
            set -- "$p".[0-9]*.nfd~
            n=$#
            for b do
              t=${b#"$p".}; t=${t%.nfd~}
              case $t in ''|*[!0-9]*) n=$((n-1)); continue;; esac
              if [ "$b" != "$mine" ] && { [ $n -gt $keep ] || [ "$t" -lt $cutoff ]; }; then rm -f -- "$b"; fi
              n=$((n-1))
            done
            """;
    }
}
