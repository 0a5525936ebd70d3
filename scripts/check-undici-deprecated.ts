/**
 * `npm run lint` step: fails when the code uses anything undici's own type definitions mark `@deprecated` — the
 * legacy dispatch handler hooks (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onUpgrade`, `onError`, …),
 * old client options, old types. It asks the TypeScript checker, so a hook is caught whether it is called, read,
 * written as a method of a class that implements an undici interface, or as a key of an object literal passed
 * where undici expects a handler. Only files that mention undici, and what they import, are checked.
 *
 * Usage: `tsx scripts/check-undici-deprecated.ts [folder…]` (default: src, where undici is imported; tests and the
 * bench may use any undici API).
 */
import ts from 'typescript';

const folders = process.argv.length > 2 ? process.argv.slice(2) : ['src'];
const read = ts.readConfigFile('tsconfig.json', (p) => ts.sys.readFile(p));
if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
const parsed = ts.parseJsonConfigFileContent({ ...read.config, include: folders }, ts.sys, '.');
// Only files that name undici (and what they import) can reach its API: checking just those keeps lint fast.
const roots = parsed.fileNames.filter((f) => ts.sys.readFile(f)?.includes('undici'));
const program = ts.createProgram(roots, parsed.options);
const checker = program.getTypeChecker();

const UNDICI = /[\\/]node_modules[\\/]undici[\\/]/;

function deprecatedInUndici(symbol: ts.Symbol | undefined): boolean {
  if (symbol === undefined) return false;
  if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
  return (symbol.declarations ?? []).some(
    (d) =>
      UNDICI.test(d.getSourceFile().fileName) &&
      ts.getJSDocTags(d).some((tag) => tag.tagName.text === 'deprecated'),
  );
}

/** The undici members a class member or object key stands for: those of the types it implements or fills. */
function fulfilled(name: ts.Identifier): ts.Symbol[] {
  const member = name.parent;
  const key = name.text;
  const owners: ts.Type[] = [];
  if (
    (ts.isMethodDeclaration(member) || ts.isPropertyDeclaration(member) || ts.isGetAccessor(member)) &&
    member.name === name
  ) {
    const owner = member.parent;
    if (ts.isClassLike(owner)) {
      for (const clause of owner.heritageClauses ?? [])
        for (const t of clause.types) owners.push(checker.getTypeAtLocation(t));
    } else if (ts.isObjectLiteralExpression(owner)) {
      const t = checker.getContextualType(owner);
      if (t) owners.push(t);
    }
  } else if (
    (ts.isPropertyAssignment(member) || ts.isShorthandPropertyAssignment(member)) &&
    member.name === name &&
    ts.isObjectLiteralExpression(member.parent)
  ) {
    const t = checker.getContextualType(member.parent);
    if (t) owners.push(t);
  }
  const out: ts.Symbol[] = [];
  for (const owner of owners) {
    for (const t of owner.isUnion() || owner.isIntersection() ? owner.types : [owner]) {
      const prop = checker.getPropertyOfType(t, key);
      if (prop) out.push(prop);
    }
  }
  return out;
}

const problems: string[] = [];
for (const file of program.getSourceFiles()) {
  if (file.isDeclarationFile || file.fileName.includes('node_modules')) continue;
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) {
      const hit =
        deprecatedInUndici(checker.getSymbolAtLocation(node)) || fulfilled(node).some(deprecatedInUndici);
      if (hit) {
        const { line, character } = file.getLineAndCharacterOfPosition(node.getStart(file));
        problems.push(`${file.fileName}:${line + 1}:${character + 1}  ${node.text} is deprecated in undici`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n${problems.length} use(s) of deprecated undici API\n`);
  process.exit(1);
}
process.stdout.write('no deprecated undici API in use\n');
