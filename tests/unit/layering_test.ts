/**
 * The architecture, checked: reads the import graph of every library module
 * (the package entries, `errors.ts`, `defaults.ts` and the layer folders)
 * with the TypeScript parser and fails when a module imports a layer above
 * its own, when a pure module imports `node:` or a package or touches
 * `Deno`, when anything but the runtime adapters (`deno/`, `node/`) does,
 * when a package is imported anywhere but the `./deflate` entry's
 * compressor (`pako`), or when the graph has a cycle (type-only imports
 * count).
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import ts from "typescript";

const ROOT = new URL("../../", import.meta.url);

/** The layer of each library folder (or top-level file), bottom first. */
const LAYER_OF: Record<string, string> = {
  // A file of a layer folder with a layer of its own: the compressor on the
  // npm package pako, loaded only by the ./deflate entry.
  "deflate/zlib_compressor.ts": "compressor",
  "deflate.ts": "deflate entry",
  "errors.ts": "base",
  "defaults.ts": "base",
  "frame": "frame",
  "protocol": "protocol",
  "http1": "http1",
  "handshake": "handshake",
  "deflate": "deflate",
  "codec.ts": "pure entry",
  "frame.ts": "pure entry",
  "handshake.ts": "pure entry",
  "socket": "socket",
  "server": "server",
  "client": "client",
  "deno": "deno",
  "node": "node",
  "bun": "bun",
  "redis": "redis",
  "socket.ts": "entry",
  "server.ts": "entry",
  "client.ts": "entry",
  "node.ts": "entry",
  "bun.ts": "entry",
  "mod.ts": "entry",
  "redis.ts": "redis entry",
};

const NEUTRAL = ["base", "frame", "protocol", "http1", "handshake", "deflate"];

/** Which layers each layer may import from (its own always included). */
const MAY_IMPORT: Record<string, string[]> = {
  "base": ["base"],
  "frame": ["base", "frame"],
  "protocol": ["base", "frame", "protocol"],
  "http1": ["base", "http1"],
  "handshake": ["base", "http1", "handshake"],
  "deflate": ["base", "frame", "protocol", "http1", "deflate"],
  "pure entry": [...NEUTRAL, "pure entry"],
  "compressor": [...NEUTRAL, "compressor"],
  "deflate entry": [...NEUTRAL, "compressor", "deflate entry"],
  "socket": ["base", "frame", "protocol", "deflate", "socket"],
  "server": [...NEUTRAL, "socket", "server"],
  "client": [...NEUTRAL, "socket", "client"],
  "deno": [...NEUTRAL, "socket", "server", "client", "deno"],
  "node": [...NEUTRAL, "socket", "server", "client", "node"],
  "bun": [...NEUTRAL, "socket", "server", "client", "bun"],
  "redis": ["base", "socket", "redis"],
  "redis entry": ["base", "socket", "redis"],
  "entry": [
    ...NEUTRAL,
    "pure entry",
    "socket",
    "server",
    "client",
    "deno",
    "node",
    "bun",
    "entry",
  ],
};

/** Layers that may run anywhere: no `node:`, no packages, no `Deno`. */
const PURE = new Set([...NEUTRAL, "pure entry"]);
/** Layers that may reference `Deno` / import `node:` (besides entries that
 * only re-export them). */
const USES_DENO = new Set(["deno"]);
const USES_NODE = new Set(["node"]);
/** The only package a library module may import, and the layers that may:
 * the `./redis` entry and its folder. */
const REDIS_PACKAGE = "@redis/client";
const USES_REDIS = new Set(["redis", "redis entry"]);
/** The packages a layer may import, and the only layers that may. */
const PACKAGES: Record<string, string[]> = {
  "compressor": ["pako"],
  "redis": [REDIS_PACKAGE],
  "redis entry": [REDIS_PACKAGE],
};

interface Module {
  path: string;
  layer: string;
  /** Relative imports, resolved to repository paths. */
  imports: string[];
  /** Non-relative specifiers (`node:net`, `npm:x`, bare names). */
  external: string[];
  /** Whether the identifier `Deno` appears in code (not comments). */
  touchesDeno: boolean;
  /** Whether the name `Bun` appears in code (not comments). */
  touchesBun: boolean;
}

function layerOf(path: string): string | undefined {
  return LAYER_OF[path] ?? LAYER_OF[path.split("/")[0]];
}

async function listLibrary(): Promise<string[]> {
  const paths: string[] = [];
  for (const key of Object.keys(LAYER_OF)) {
    if (key.endsWith(".ts")) {
      if (!key.includes("/")) paths.push(key);
      continue;
    }
    const entries = await readdir(new URL(`${key}/`, ROOT), {
      withFileTypes: true,
    });
    for (const entry of entries) {
      if (entry.isFile() && entry.name.endsWith(".ts")) {
        paths.push(`${key}/${entry.name}`);
      }
    }
  }
  return paths.sort();
}

function resolve(from: string, specifier: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "." || part === "") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

async function parseModule(path: string): Promise<Module> {
  const text = await readFile(new URL(path, ROOT), "utf8");
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const specifiers: string[] = [];
  let touchesDeno = false;
  let touchesBun = false;
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length > 0 &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      specifiers.push(node.arguments[0].text);
    } else if (
      ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      specifiers.push(node.argument.literal.text);
    } else if (ts.isIdentifier(node) && node.text === "Deno") {
      touchesDeno = true;
    } else if (ts.isIdentifier(node) && node.text === "Bun") {
      touchesBun = true;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  const imports: string[] = [];
  const external: string[] = [];
  for (const specifier of specifiers) {
    if (specifier.startsWith(".")) imports.push(resolve(path, specifier));
    else external.push(specifier);
  }
  return {
    path,
    layer: layerOf(path)!,
    imports,
    external,
    touchesDeno,
    touchesBun,
  };
}

const modules = new Map<string, Module>();
for (const path of await listLibrary()) {
  modules.set(path, await parseModule(path));
}

/** A cycle in the graph, as a path list, or null. */
function findCycle(graph: Map<string, Module>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (path: string): string[] | null => {
    state.set(path, "open");
    stack.push(path);
    for (const next of graph.get(path)?.imports ?? []) {
      if (state.get(next) === "open") {
        return [...stack.slice(stack.indexOf(next)), next];
      }
      if (!state.has(next)) {
        const cycle = visit(next);
        if (cycle !== null) return cycle;
      }
    }
    stack.pop();
    state.set(path, "done");
    return null;
  };
  for (const path of graph.keys()) {
    if (state.has(path)) continue;
    const cycle = visit(path);
    if (cycle !== null) return cycle;
  }
  return null;
}

describe("layering", () => {
  test("the library has modules in every layer", () => {
    const layers = new Set([...modules.values()].map((module) => module.layer));
    for (const layer of Object.keys(MAY_IMPORT)) {
      assert.ok(layers.has(layer), `no module in layer ${layer}`);
    }
  });

  test("every relative import is a library module", () => {
    for (const module of modules.values()) {
      for (const target of module.imports) {
        assert.ok(
          modules.has(target),
          `${module.path} imports ${target}, which is not a library module`,
        );
      }
    }
  });

  test("no module imports a layer it may not", () => {
    for (const module of modules.values()) {
      const allowed = MAY_IMPORT[module.layer];
      for (const target of module.imports) {
        const layer = modules.get(target)?.layer ?? "?";
        assert.ok(
          allowed.includes(layer),
          `${module.path} (${module.layer}) imports ${target} (${layer})`,
        );
      }
    }
  });

  test("pure modules import no node: module or package and never touch Deno", () => {
    for (const module of modules.values()) {
      if (!PURE.has(module.layer)) continue;
      assert.deepEqual(module.external, [], `${module.path} imports`);
      assert.equal(module.touchesDeno, false, `${module.path} touches Deno`);
    }
  });

  test("only deno/ touches Deno, only bun/ touches Bun, only node/ imports node:, and only the compressor and redis/ a package", () => {
    for (const module of modules.values()) {
      if (!USES_DENO.has(module.layer)) {
        assert.equal(module.touchesDeno, false, `${module.path} touches Deno`);
      }
      if (module.layer !== "bun") {
        assert.equal(module.touchesBun, false, `${module.path} touches Bun`);
      }
      for (const specifier of module.external) {
        const allowed = specifier.startsWith("node:")
          ? USES_NODE.has(module.layer)
          : (PACKAGES[module.layer] ?? []).includes(specifier);
        assert.ok(allowed, `${module.path} imports ${specifier}`);
      }
    }
  });

  test("only redis/ and the ./redis entry import the Redis client, and no entry imports them", () => {
    const importers = [...modules.values()].filter((module) =>
      module.external.includes(REDIS_PACKAGE)
    );
    assert.ok(importers.length > 0, "nothing imports the Redis client");
    for (const module of importers) {
      assert.ok(USES_REDIS.has(module.layer), `${module.path} imports it`);
    }
    for (const module of modules.values()) {
      if (USES_REDIS.has(module.layer)) continue;
      for (const target of module.imports) {
        const layer = modules.get(target)?.layer ?? "?";
        assert.ok(!USES_REDIS.has(layer), `${module.path} imports ${target}`);
      }
    }
  });

  test("the compressor imports pako and nothing else loads the compressor", () => {
    const compressor = modules.get("deflate/zlib_compressor.ts");
    assert.deepEqual(compressor?.external, ["pako"]);
    for (const module of modules.values()) {
      if (!module.imports.includes("deflate/zlib_compressor.ts")) continue;
      assert.equal(module.path, "deflate.ts", `${module.path} loads pako`);
    }
  });

  test("the import graph has no cycle", () => {
    assert.deepEqual(findCycle(modules), null);
  });

  test("the cycle check finds a cycle", () => {
    const a: Module = {
      path: "a.ts",
      layer: "base",
      imports: ["b.ts"],
      external: [],
      touchesDeno: false,
      touchesBun: false,
    };
    const b: Module = { ...a, path: "b.ts", imports: ["a.ts"] };
    assert.deepEqual(
      findCycle(new Map([["a.ts", a], ["b.ts", b]])),
      ["a.ts", "b.ts", "a.ts"],
    );
  });
});
