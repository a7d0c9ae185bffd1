using System.Collections.Immutable;
using System.Globalization;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;
using Deploy.Site.Model;
using Deploy.Site.Templates;
using Scriban.Runtime;

namespace Deploy.Site.Compile;

/// <summary>An NF's database resources: SQL schemas, database users, and rows made from a list setting.</summary>
public sealed partial class SiteProgram
{
    /// <summary>An NF's database resources: schemas, users, and rows made from the items of a list setting.</summary>
    private void AddSql(InventoryHost h, NfManifest nf, ScriptObject scope, string by, Func<Templated, string> r,
        Func<Templated, string, bool> truthy, Action<ResourceSpec, string, int> add)
    {
        foreach (var sc in nf.SqlSchemas.Where(x => x.When is null || truthy(x.When, "when")))
        {
            var full = _templates.Resolve(sc.Template, nf.Name)
                ?? throw new SiteException(nf.File, sc.Line,
                    $"template '{sc.Template}' not found (looked in nf/{nf.Name}/templates/ and templates/)", h.Name);
            var db = r(sc.Database).Trim();
            ShapeCheck.Ok(db, Shapes.SqlIdentifier(db, "database name"), nf.File, sc.Line, h.Name);
            add(new SqlSchemaSpec(db, sc.Name, _templates.RenderFile(full, scope, h.Name), sc.Tables)
            {
                Host = h.Name, Name = $"{db}/{sc.Name}", DeclaredBy = by,
            }, nf.File, sc.Line);
        }
        foreach (var u in nf.SqlUsers.Where(x => x.When is null || truthy(x.When, "when")))
        {
            var (user, from, password) = (r(u.User).Trim(), r(u.From).Trim(), r(u.Password));
            if (password.Length == 0 || !Config.SecretValues.Contains(password))
                throw new SiteException(nf.File, u.Line,
                    $"the password of database user '{user}' must come from a secret setting " +
                    "(./deploy config set KEY VALUE --secret)", h.Name);
            ShapeCheck.Ok(user, Shapes.SqlUser(user) ?? Shapes.SqlHost(from), nf.File, u.Line, h.Name);
            var grants = u.Grants.Select(g => r(g).Trim())
                .Select(g => ShapeCheck.Ok(g, Shapes.Grant(g), nf.File, u.Line, h.Name)).ToImmutableArray();
            add(new SqlUserSpec(user, from, password, grants)
            {
                Host = h.Name, Name = $"{user}@{from}", DeclaredBy = by, HashKey = Config.StateHashKey,
            }, nf.File, u.Line);
        }
        foreach (var rows in nf.SqlRows.Where(x => x.When is null || truthy(x.When, "when")))
        {
            if (!Config.Values.TryGetValue(rows.Each, out var list))
                throw new SiteException(nf.File, rows.Line, $"rows of {rows.Table}: 'each: {rows.Each}' is not a setting of the project",
                    h.Name);
            if (list is not List<object?> itemsList)
                throw new SiteException(nf.File, rows.Line, $"rows of {rows.Table}: setting '{rows.Each}' must be a list of mappings",
                    h.Name);
            var db = r(rows.Database).Trim();
            var names = new[] { (db, "database name"), (rows.Table, "table name") }
                .Concat(rows.Columns.Keys.Select(c => (c, "column name")));
            foreach (var (name, what) in names)
                ShapeCheck.Ok(name, Shapes.SqlIdentifier(name, what), nf.File, rows.Line, h.Name);
            var lines = Config.ItemLines.GetValueOrDefault(rows.Each);
            var keys = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < itemsList.Count; i++)
            {
                // an item's mistakes are the stack file's, at the item's line
                var (file, line) = lines.IsDefault || i >= lines.Length
                    ? (Config.DisplayPath, Config.KeyLines.GetValueOrDefault(rows.Each))
                    : (Config.DisplayPath, lines[i]);
                if (itemsList[i] is not Dictionary<string, object?> item)
                    throw new SiteException(file, line, $"{rows.Each}[{i}]: must be a mapping (a {rows.Table} row)");
                var itemScope = (ScriptObject)scope.Clone(false);
                itemScope["item"] = TemplateEngine.FromDictionary(item);
                string Ri(Templated t) => _templates.RenderInline(t.Text, itemScope, nf.File, t.Line, h.Name);
                var label = item.TryGetValue(rows.Key, out var kv) && kv is not null
                    ? $"{rows.Each}[{i}] ({rows.Key} {Shapes.Show(Convert.ToString(kv, CultureInfo.InvariantCulture) ?? "")})"
                    : $"{rows.Each}[{i}]";
                foreach (var c in rows.Checks)
                    if (!(Boolean(Ri(c.That)) ?? throw new SiteException(nf.File, c.Line, "'that' must be true or false", h.Name)))
                        throw new SiteException(file, line, $"{label}: {Ri(c.Message).Trim()}");
                bool Included(NfSqlColumn column, string name) => column.When is null || (Boolean(Ri(column.When))
                    ?? throw new SiteException(nf.File, rows.Line, $"'when' of column {name} must be true or false", h.Name));
                var cols = rows.Columns.Where(c => Included(c.Value, c.Key))
                    .ToImmutableSortedDictionary(c => c.Key, c => Ri(c.Value.Value).Trim(), StringComparer.Ordinal);
                foreach (var sc in rows.SecretColumns)
                    if (cols.TryGetValue(sc, out var v) && v.Length > 0 && !Config.SecretValues.Contains(v))
                        throw new SiteException(file, line,
                            $"{label}: column {sc} must come from a secret setting (./deploy config set KEY VALUE --secret)");
                var key = cols[rows.Key];
                if (Shapes.NoControl(key, $"{label}: {rows.Key}") is { } badKey) throw new SiteException(file, line, badKey);
                if (key.Length == 0) throw new SiteException(file, line, $"{label}: {rows.Key} is empty");
                if (keys.TryGetValue(key, out var first))
                    throw new SiteException(file, line, $"{label}: {rows.Key} '{key}' is already used by {rows.Each}[{first}]");
                keys[key] = i;
                add(new SqlRowSpec(db, rows.Table, rows.Key, key, cols)
                {
                    Host = h.Name, Name = $"{db}.{rows.Table}/{key}", DeclaredBy = by, SecretColumns = rows.SecretColumns,
                    HashKey = Config.StateHashKey,
                    Notify = [.. rows.Notify.Select(n => Ri(n).Trim()).Where(n => n.Length > 0)],
                }, nf.File, rows.Line);
            }
        }
    }
}
