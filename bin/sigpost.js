#!/usr/bin/env node
// `npx sigpost`: starts the server with the same environment variables as `npm start` (docs/operations.md,
// "Configuration"). The demo page comes from the package's own web/dist unless WEB_ROOT says otherwise.
await import('../dist/server/main.js')
