/**
 * docs/operations.md's configuration table, made from server/config.ts's SETTINGS: `tsx scripts/config-table.ts`
 * prints it, `--write` puts it in place of the one in the docs. test/docs.test.ts checks the docs hold it.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SETTINGS, type Setting } from '../server/config.js'

/** The table as markdown: variable, default, unit, meaning; one row per setting, in SETTINGS' order. */
export function configTable(): string {
  const rows = Object.values(SETTINGS as Record<string, Setting>).map((setting) => `| \`${setting.env}\` | ${shownDefault(setting)} | ${setting.unit ?? ''} | ${setting.doc} |`)
  return ['| variable | default | unit | meaning |', '|---|---|---|---|', ...rows].join('\n')
}

function shownDefault({ default: value, shown }: Setting): string {
  const empty = value === '' || (Array.isArray(value) && value.length === 0)
  if (empty) return shown ?? '(none)'
  return `\`${Array.isArray(value) ? value.join(',') : value}\``
}

/** The table in the docs: from its header row to the first line that is not a row. */
export const DOCS_TABLE = /^\| variable \| default \|.*\n(?:\|.*\n)*/m

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = fileURLToPath(new URL('../docs/operations.md', import.meta.url))
  if (process.argv.includes('--write')) {
    const docs = readFileSync(path, 'utf8')
    if (!DOCS_TABLE.test(docs)) throw new Error('docs/operations.md has no configuration table to replace')
    writeFileSync(path, docs.replace(DOCS_TABLE, `${configTable()}\n`))
  } else {
    console.log(configTable())
  }
}
