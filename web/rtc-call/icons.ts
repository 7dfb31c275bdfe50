/**
 * Inline SVG icons (24×24, stroked with `currentColor`, so they follow the button's text colour and
 * forced-colors mode). Decorative: the button's text is its accessible name, so every icon is aria-hidden.
 * A toggled state never relies on colour alone: `mic`/`micOff`, `camera`/`cameraOff` differ in shape.
 */
import { svg, type SVGTemplateResult } from 'lit'

const icon = (body: SVGTemplateResult) =>
  svg`<svg class="icon" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false"
    fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">${body}</svg>`

const slash = svg`<line x1="3" y1="3" x2="21" y2="21"></line>`

export const icons = {
  mic: icon(svg`<rect x="9" y="2" width="6" height="12" rx="3"></rect><path d="M5 11a7 7 0 0 0 14 0M12 18v4M8 22h8"></path>`),
  micOff: icon(svg`<path d="M15 9.3V5a3 3 0 0 0-5.7-1.3M9 9v2a3 3 0 0 0 5 2.2M5 11a7 7 0 0 0 11.5 5.4M19 11a7 7 0 0 1-.4 2.3M12 18v4M8 22h8"></path>${slash}`),
  camera: icon(svg`<rect x="2" y="6" width="14" height="12" rx="2"></rect><path d="m16 10 6-4v12l-6-4"></path>`),
  cameraOff: icon(svg`<path d="M16 16v2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h2m4 0h4a2 2 0 0 1 2 2v3l6-4v10"></path>${slash}`),
  screen: icon(svg`<rect x="2" y="3" width="20" height="14" rx="2"></rect><path d="M8 21h8M12 17v4M12 7v6M9 10l3-3 3 3"></path>`),
  screenStop: icon(svg`<rect x="2" y="3" width="20" height="14" rx="2"></rect><path d="M8 21h8M12 17v4M9 7l6 6M15 7l-6 6"></path>`),
  settings: icon(svg`<circle cx="12" cy="12" r="3"></circle><path d="M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 0 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 0 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 0 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 0 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z"></path>`),
  phone: icon(svg`<path d="M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.4 1.8.7 2.7a2 2 0 0 1-.5 2.1L8 9.8a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.7.7a2 2 0 0 1 1.7 2z"></path>`),
  hangUp: icon(svg`<path d="M3.7 14.5 2.3 13a2 2 0 0 1 .1-2.8 14 14 0 0 1 19.2 0 2 2 0 0 1 .1 2.8l-1.4 1.5a2 2 0 0 1-2.5.3l-2-1.2a2 2 0 0 1-.9-1.9l.1-1.3a11 11 0 0 0-6 0l.1 1.3a2 2 0 0 1-.9 1.9l-2 1.2a2 2 0 0 1-2.5-.3z"></path>`),
  block: icon(svg`<circle cx="12" cy="12" r="9"></circle><line x1="5.6" y1="5.6" x2="18.4" y2="18.4"></line>`),
  speaker: icon(svg`<path d="M11 5 6 9H2v6h4l5 4z"></path><path d="M15.5 8.5a5 5 0 0 1 0 7M19 5a10 10 0 0 1 0 14"></path>`),
  missed: icon(svg`<path d="M16 2l6 6M22 2l-6 6"></path><path d="M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.4 1.8.7 2.7a2 2 0 0 1-.5 2.1L8 9.8a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.7.7a2 2 0 0 1 1.7 2z"></path>`),
  close: icon(svg`<path d="M6 6l12 12M18 6 6 18"></path>`),
  /** Signal bars: `level` of 3 filled; the others are drawn as outlines, so the level reads without colour. */
  bars: (level: number) =>
    icon(svg`${[0, 1, 2].map((i) => svg`<rect x=${4 + i * 6} y=${16 - i * 5} width="4" height=${4 + i * 5} rx="1"
      fill=${i < level ? 'currentColor' : 'none'}></rect>`)}`),
}
