using System.Text;

namespace Deploy.Core.Engine;

/// <summary>A line-based unified diff (Myers' algorithm would be shorter; an LCS table is plenty for config files).</summary>
public static class UnifiedDiff
{
    public static string Create(string before, string after, string beforeName, string afterName, int context = 3)
    {
        var a = SplitLines(before);
        var b = SplitLines(after);
        var edits = Edits(a, b);
        var sb = new StringBuilder();
        sb.Append("--- ").Append(beforeName).Append('\n').Append("+++ ").Append(afterName).Append('\n');
        var i = 0;
        while (i < edits.Count)
        {
            if (edits[i].Kind == ' ') { i++; continue; }
            var start = Math.Max(0, i - context);
            var end = i;
            // extend the hunk while changes are within 2*context of each other
            while (end < edits.Count)
            {
                if (edits[end].Kind != ' ') { end++; continue; }
                var next = end;
                while (next < edits.Count && edits[next].Kind == ' ') next++;
                if (next < edits.Count && next - end <= 2 * context) { end = next; continue; }
                end = Math.Min(edits.Count, end + context);
                break;
            }
            var hunk = edits.GetRange(start, end - start);
            var aStart = hunk.FirstOrDefault(e => e.Kind != '+').A;
            var bStart = hunk.FirstOrDefault(e => e.Kind != '-').B;
            var aLen = hunk.Count(e => e.Kind != '+');
            var bLen = hunk.Count(e => e.Kind != '-');
            sb.Append($"@@ -{(aLen == 0 ? aStart : aStart + 1)},{aLen} +{(bLen == 0 ? bStart : bStart + 1)},{bLen} @@\n");
            foreach (var e in hunk) sb.Append(e.Kind).Append(e.Text).Append('\n');
            i = end;
        }
        return sb.ToString();
    }

    private readonly record struct Edit(char Kind, string Text, int A, int B);

    private static string[] SplitLines(string s)
    {
        if (s.Length == 0) return [];
        var lines = s.Split('\n');
        return s.EndsWith('\n') ? lines[..^1] : lines;
    }

    private static List<Edit> Edits(string[] a, string[] b)
    {
        // trim common prefix/suffix to keep the table small
        var pre = 0;
        while (pre < a.Length && pre < b.Length && a[pre] == b[pre]) pre++;
        var suf = 0;
        while (suf < a.Length - pre && suf < b.Length - pre && a[^(suf + 1)] == b[^(suf + 1)]) suf++;
        var n = a.Length - pre - suf;
        var m = b.Length - pre - suf;
        var lcs = new int[n + 1, m + 1];
        for (var x = n - 1; x >= 0; x--)
            for (var y = m - 1; y >= 0; y--)
                lcs[x, y] = a[pre + x] == b[pre + y] ? lcs[x + 1, y + 1] + 1 : Math.Max(lcs[x + 1, y], lcs[x, y + 1]);
        var edits = new List<Edit>(a.Length + b.Length);
        for (var k = 0; k < pre; k++) edits.Add(new Edit(' ', a[k], k, k));
        int i = 0, j = 0;
        while (i < n || j < m)
        {
            if (i < n && j < m && a[pre + i] == b[pre + j]) { edits.Add(new Edit(' ', a[pre + i], pre + i, pre + j)); i++; j++; }
            else if (i < n && (j == m || lcs[i + 1, j] >= lcs[i, j + 1])) { edits.Add(new Edit('-', a[pre + i], pre + i, pre + j)); i++; }
            else { edits.Add(new Edit('+', b[pre + j], pre + i, pre + j)); j++; }
        }
        for (var k = 0; k < suf; k++) edits.Add(new Edit(' ', a[pre + n + k], pre + n + k, pre + m + k));
        return edits;
    }
}
