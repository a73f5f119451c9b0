#!/usr/bin/env node
// Checks that the folders of src/ import each other without a cycle (issue 16: "the import graph
// has no folder cycle"). Each top-level folder of src/ is one node (files directly in src/, such
// as index.ts and app.ts, are "(root)"); an edge A -> B means some file in A imports a file in B
// by a relative path. Prints "no folder cycle" and exits 0, or prints each cycle's folders and the
// edges between them (with up to three of the imports behind each) and exits 1.
//
//   node scripts/check-layers.mjs [dir]     (default: src)
import fs from "node:fs";
import path from "node:path";

const root = process.argv[2] ?? "src";

function tsFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(full);
    return full.endsWith(".ts") ? [full] : [];
  });
}

/** The node a file belongs to: its top-level folder under root, or "(root)". */
function folderOf(file) {
  const parts = path.relative(root, file).split(path.sep);
  return parts.length > 1 ? parts[0] : "(root)";
}

// `import ... from "./x"`, `export ... from "./x"` and `import "./x"`; type-only imports count too
// (a type is a dependency of the code that names it).
const RELATIVE_IMPORT = /(?:(?:import|export)[^"';]*?from\s+|import\s+)["'](\.[^"']+)["']/g;

/** edges: folder -> folder -> ["file -> specifier", ...] */
const edges = new Map();
for (const file of tsFiles(root)) {
  const text = fs.readFileSync(file, "utf8");
  for (const [, specifier] of text.matchAll(RELATIVE_IMPORT)) {
    const from = folderOf(file);
    const to = folderOf(`${path.resolve(path.dirname(file), specifier)}.ts`);
    if (from === to) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    const targets = edges.get(from);
    targets.set(to, [...(targets.get(to) ?? []), `${path.relative(root, file)} -> ${specifier}`]);
  }
}

// Tarjan's strongly connected components: a component of more than one folder is a cycle.
const nodes = [...new Set([...edges.keys(), ...[...edges.values()].flatMap((targets) => [...targets.keys()])])];
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
let counter = 0;
function visit(v) {
  index.set(v, counter);
  low.set(v, counter++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) !== index.get(v)) return;
  const component = [];
  let w;
  do {
    w = stack.pop();
    onStack.delete(w);
    component.push(w);
  } while (w !== v);
  if (component.length > 1) cycles.push(component);
}
for (const n of nodes) if (!index.has(n)) visit(n);

if (cycles.length === 0) {
  console.log("no folder cycle");
  process.exit(0);
}
for (const cycle of cycles) {
  console.log(`cycle among: ${cycle.join(", ")}`);
  for (const a of cycle) {
    for (const [b, why] of edges.get(a) ?? []) {
      if (!cycle.includes(b)) continue;
      const more = why.length > 3 ? ` (+${why.length - 3})` : "";
      console.log(`  ${a} -> ${b}: ${why.slice(0, 3).join("; ")}${more}`);
    }
  }
}
process.exit(1);
