// Copyright 2026 the locco authors. MIT license.
// Fails when a public symbol, constructor or method of an entry point lacks a
// titled `@example` (`deno doc --lint` checks that JSDoc exists, not examples),
// or when an entry point's module doc has no runnable example.
// Usage: deno run --allow-read --allow-run scripts/check_docs.ts

// deno-lint-ignore-file no-console

interface JsDoc {
  doc?: string;
  tags?: Array<{ kind: string; doc?: string }>;
}
interface Declaration {
  kind: string;
  jsDoc?: JsDoc;
  def?: {
    constructors?: Array<{ jsDoc?: JsDoc; accessibility?: string }>;
    methods?: Array<{ name: string; jsDoc?: JsDoc; accessibility?: string }>;
  };
}
interface DocModule {
  "module_doc"?: JsDoc;
  symbols: Array<{ name: string; declarations: Declaration[] }>;
}

const config = JSON.parse(await Deno.readTextFile("deno.json"));
const entries: string[] = Object.values(config.exports as Record<string, string>);
const output = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--json", ...entries],
  stdout: "piped",
}).output();
if (!output.success) throw new Error("deno doc --json failed");
const { nodes } = JSON.parse(new TextDecoder().decode(output.stdout)) as {
  nodes: Record<string, DocModule>;
};

const problems: string[] = [];

function hasTitledExample(jsDoc: JsDoc | undefined): boolean {
  return (jsDoc?.tags ?? []).some((tag) => {
    if (tag.kind !== "example") return false;
    const title = (tag.doc ?? "").split("\n")[0]!.trim();
    return title.length > 0 && !title.startsWith("```");
  });
}

for (const [file, module] of Object.entries(nodes)) {
  const name = file.replace(/^file:\/\/.*?\/(?=mod\.ts|src\/)/, "");
  if (!/```ts\n/.test(module.module_doc?.doc ?? "")) {
    problems.push(`${name}: module doc has no \`\`\`ts example`);
  }
  for (const symbol of module.symbols) {
    for (const declaration of symbol.declarations) {
      // A reference is a re-export of a symbol checked in its own entry point.
      if (["import", "moduleDoc", "reference"].includes(declaration.kind)) continue;
      if (!hasTitledExample(declaration.jsDoc)) {
        problems.push(`${name}: ${symbol.name} has no titled @example`);
      }
      for (const ctor of declaration.def?.constructors ?? []) {
        if (ctor.accessibility === "private") continue;
        if (!hasTitledExample(ctor.jsDoc)) {
          problems.push(`${name}: new ${symbol.name}() has no titled @example`);
        }
      }
      // Methods of an interface describe a shape (a driver's client, say);
      // a class's methods are API and need an example each.
      const methods = new Map<string, boolean>();
      for (const method of declaration.kind === "class" ? declaration.def?.methods ?? [] : []) {
        if (method.accessibility === "private") continue;
        methods.set(
          method.name,
          (methods.get(method.name) ?? false) || hasTitledExample(method.jsDoc),
        );
      }
      for (const [method, ok] of methods) {
        if (!ok) problems.push(`${name}: ${symbol.name}.${method}() has no titled @example`);
      }
    }
  }
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error(`\n${problems.length} public symbol(s) without a titled @example`);
  Deno.exit(1);
}
console.log(
  `check_docs: every public symbol of ${entries.length} entry points has a titled @example`,
);
