/**
 * A small parser for the parts of schema.prisma that validate needs: models, their table name (@@map), field
 * column names (@map), and `@relation(fields: [...], references: [...])`. It is not a full Prisma parser: it
 * reads block structure, strips comments and strings safely, and ignores everything else.
 */

export interface PrismaRelation {
  /** Model that holds the foreign key fields. */
  model: string;
  /** The relation field's name (e.g. `user`). */
  field: string;
  childTable: string;
  childColumns: string[];
  /** The referenced model. */
  target: string;
  parentTable: string;
  parentColumns: string[];
  /** onDelete as written (Cascade, Restrict, SetNull, NoAction, SetDefault), if any. */
  onDelete?: string;
}

export interface PrismaModel {
  name: string;
  table: string;
  /** field name -> column name */
  columns: Map<string, string>;
}

export interface PrismaSchemaInfo {
  /** datasource relationMode ("foreignKeys" when absent). */
  relationMode: 'foreignKeys' | 'prisma';
  models: Map<string, PrismaModel>;
  relations: PrismaRelation[];
}

/** Removes // and /// comments, leaving string contents intact (a "//" inside a string is not a comment). */
function stripComments(src: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (inString) {
      out += ch;
      if (ch === '\\') {
        out += src[++i] ?? '';
      } else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    if (ch === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      out += '\n';
      continue;
    }
    out += ch;
  }
  return out;
}

interface Block {
  kind: string;
  name: string;
  body: string;
}

/** Top-level `kind Name { ... }` blocks; braces inside strings and nested braces are balanced. */
function blocks(src: string): Block[] {
  const result: Block[] = [];
  const head = /\b(model|view|datasource|generator|enum|type)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{/g;
  let m: RegExpExecArray | null;
  while ((m = head.exec(src))) {
    const { end, depth } = scanBalanced(src, head.lastIndex, '{', '}');
    if (depth !== 0) throw new Error(`schema.prisma: unbalanced braces in ${m[1]} ${m[2]}`);
    result.push({ kind: m[1], name: m[2], body: src.slice(head.lastIndex, end - 1) });
    head.lastIndex = end;
  }
  return result;
}

/**
 * From `i` (just after an opening bracket) to just past the bracket that closes it, skipping string literals and
 * their escapes. `depth` is 0 when it closed, more when the text ended first.
 */
function scanBalanced(text: string, i: number, opens: string, closes: string): { end: number; depth: number } {
  let depth = 1;
  let inString = false;
  for (; i < text.length && depth > 0; i++) {
    const ch = text[i]!;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (opens.includes(ch)) depth++;
    else if (closes.includes(ch)) depth--;
  }
  return { end: i, depth };
}

/** The argument text of `@name(...)` in `line`, parentheses balanced; undefined if absent. */
function attributeArgs(line: string, name: string): string | undefined {
  const re = new RegExp(`(^|[^@\\w])${name.replace(/[.@]/g, (c) => `\\${c}`)}\\s*\\(`);
  const m = re.exec(line);
  if (!m) return undefined;
  const start = m.index + m[0].length;
  return line.slice(start, scanBalanced(line, start, '([', ')]').end - 1);
}

function stringArg(args: string | undefined, key?: string): string | undefined {
  if (args === undefined) return undefined;
  const re = key ? new RegExp(`\\b${key}\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`) : /^\s*"((?:[^"\\]|\\.)*)"/;
  const m = re.exec(args);
  return m ? m[1].replace(/\\(.)/g, '$1') : undefined;
}

function listArg(args: string, key: string): string[] | undefined {
  const m = new RegExp(`\\b${key}\\s*:\\s*\\[([^\\]]*)\\]`).exec(args);
  if (!m) return undefined;
  // Entries may carry arguments, e.g. [id(sort: Desc)]: keep the bare name.
  return m[1].split(',').map((s) => s.trim().replace(/\(.*$/, '')).filter(Boolean);
}

function identArg(args: string, key: string): string | undefined {
  return new RegExp(`\\b${key}\\s*:\\s*([A-Za-z_]+)`).exec(args)?.[1];
}

export function parsePrismaSchema(source: string): PrismaSchemaInfo {
  const src = stripComments(source);
  const all = blocks(src);
  let relationMode: PrismaSchemaInfo['relationMode'] = 'foreignKeys';
  const models = new Map<string, PrismaModel>();
  const pending: Array<{ model: string; field: string; target: string; args: string }> = [];

  for (const b of all) {
    if (b.kind === 'datasource') {
      const m = /\brelationMode\s*=\s*"(\w+)"/.exec(b.body);
      if (m?.[1] === 'prisma') relationMode = 'prisma';
      continue;
    }
    if (b.kind !== 'model') continue;
    const model: PrismaModel = { name: b.name, table: b.name, columns: new Map() };
    for (const raw of b.body.split('\n')) {
      const line = raw.trim();
      if (!line) continue;
      if (line.startsWith('@@')) {
        const map = stringArg(attributeArgs(line, '@@map'));
        if (map !== undefined) model.table = map;
        continue;
      }
      const fm = /^([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_][A-Za-z0-9_]*)(\[\])?(\?)?/.exec(line);
      if (!fm) continue;
      const [, field, type, isList] = fm;
      const column = stringArg(attributeArgs(line, '@map')) ?? field;
      model.columns.set(field, column);
      const relArgs = attributeArgs(line, '@relation');
      if (relArgs !== undefined && !isList && /\bfields\s*:/.test(relArgs)) pending.push({ model: b.name, field, target: type, args: relArgs });
    }
    models.set(b.name, model);
  }

  const relations: PrismaRelation[] = [];
  for (const p of pending) {
    const child = models.get(p.model)!;
    const parent = models.get(p.target);
    if (!parent) throw new Error(`schema.prisma: ${p.model}.${p.field} references unknown model ${p.target}`);
    const fields = listArg(p.args, 'fields');
    const references = listArg(p.args, 'references');
    if (!fields || !references || fields.length !== references.length || fields.length === 0) {
      throw new Error(`schema.prisma: ${p.model}.${p.field}: @relation needs fields and references of equal length`);
    }
    relations.push({
      model: p.model,
      field: p.field,
      childTable: child.table,
      childColumns: fields.map((f) => columnOf(child, f)),
      target: p.target,
      parentTable: parent.table,
      parentColumns: references.map((f) => columnOf(parent, f)),
      onDelete: identArg(p.args, 'onDelete'),
    });
  }
  return { relationMode, models, relations };
}

function columnOf(model: PrismaModel, field: string): string {
  const col = model.columns.get(field);
  if (col === undefined) throw new Error(`schema.prisma: model ${model.name} has no field ${field}`);
  return col;
}
