// custom-elements.json at the package root (`npm run build:manifest`, run by `prepack`; never committed;
// package.json's `customElements` field names it), from the JSDoc of web/rtc-call/rtc-call.component.ts
// (@fires, @slot, @csspart, @cssproperty, @property) and its Lit properties.
//
// The analyzer describes the source files; the package ships one module for the element,
// dist/web/element.js (`sigpost/element`), which bundles them. So the manifest is rewritten to that module:
// its one class and the `rtc-call` definition, nothing that points at a file the package does not hold.
const MODULE = 'dist/web/element.js'

/** The package's view: one module, `sigpost/element`, declaring RtcCall and defining `<rtc-call>`. */
function asPackaged() {
  return {
    name: 'sigpost: the packaged module',
    packageLinkPhase({ customElementsManifest: manifest }) {
      const declarations = manifest.modules.flatMap((module) => module.declarations ?? [])
        .filter((declaration) => declaration.kind === 'class' && declaration.customElement)
      for (const declaration of declarations) {
        // `fire(type, detail)` is one generic helper; only the documented `rtc-*` events are the element's.
        declaration.events = (declaration.events ?? []).filter((event) => event.name.startsWith('rtc-'))
        // A reference of the public surface: private fields and helpers are the element's business.
        declaration.members = (declaration.members ?? []).filter((member) => member.privacy !== 'private')
      }
      const definitions = manifest.modules.flatMap((module) => module.exports ?? [])
        .filter((entry) => entry.kind === 'custom-element-definition')
      manifest.modules = [{
        kind: 'javascript-module',
        path: MODULE,
        declarations,
        exports: [
          ...declarations.map((declaration) => ({ kind: 'js', name: declaration.name, declaration: { name: declaration.name, module: MODULE } })),
          ...definitions.map((entry) => ({ ...entry, declaration: { name: entry.declaration.name, module: MODULE } })),
        ],
      }]
    },
  }
}

export default {
  globs: ['web/rtc-call/rtc-call.ts', 'web/rtc-call/rtc-call.component.ts'],
  outdir: '.',
  litelement: true,
  packagejson: false,
  quiet: true,
  plugins: [asPackaged()],
}
