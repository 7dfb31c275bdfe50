// <rtc-call>'s styles: the `--rtc-call-*` custom properties with their fallbacks, and the layout of each part.
import { css } from 'lit'

/**
 * Every colour and size comes from a `--rtc-call-*` custom property with a fallback. States never rely on
 * colour alone: a pressed toggle changes its icon (crossed out) and its shape (inset ring), a disabled
 * button is dashed and faded, quality has bars and a word.
 */
export const styles = css`
  :host {
    display: block;
    box-sizing: border-box;
    container-type: inline-size;
    max-width: var(--rtc-call-max-width, 40rem);
    padding: var(--rtc-call-padding, 0.75rem);
    border: var(--rtc-call-border, 1px solid #c8ccd2);
    border-radius: var(--rtc-call-radius, 0.75rem);
    background: var(--rtc-call-background, #fff);
    color: var(--rtc-call-foreground, #1b1f24);
    font: var(--rtc-call-font, 1rem/1.4 system-ui, sans-serif);
  }
  :host([hidden]) {
    display: none;
  }
  *,
  *::before,
  *::after {
    box-sizing: inherit;
  }
  [hidden] {
    display: none !important;
  }
  .base {
    display: grid;
    /* minmax(0, …): a 64-character name never widens the element past its container (320 px included). */
    grid-template-columns: minmax(0, 1fr);
    gap: var(--rtc-call-gap, 0.75rem);
  }
  /* Names are one word of up to 64 characters: cut with an ellipsis (the whole name is the title). */
  .name {
    min-width: 0;
    max-width: 100%;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  /* Sentences that carry a name break anywhere rather than overflow. */
  .status,
  .error,
  .notice p,
  .confirm,
  .placeholder,
  .missed .who {
    overflow-wrap: anywhere;
    min-width: 0;
  }
  .icon {
    flex: none;
    width: 1.25em;
    height: 1.25em;
  }

  /* ---- the video stage ---- */
  .media {
    position: relative;
    aspect-ratio: 4 / 3;
    border-radius: var(--rtc-call-radius, 0.75rem);
    overflow: hidden;
    background: var(--rtc-call-video-background, #15191e);
    color: var(--rtc-call-overlay-foreground, #fff);
  }
  @container (min-width: 36rem) {
    .media {
      aspect-ratio: 16 / 10;
    }
  }
  video {
    display: block;
    background: var(--rtc-call-video-background, #15191e);
  }
  .remote {
    width: 100%;
    height: 100%;
    object-fit: contain;
  }
  .local {
    position: absolute;
    right: 0.5rem;
    bottom: 0.5rem;
    width: var(--rtc-call-local-video-width, 28%);
    min-width: 5.5rem;
    aspect-ratio: 4 / 3;
    object-fit: cover;
    border: 2px solid var(--rtc-call-overlay-foreground, #fff);
    border-radius: calc(var(--rtc-call-radius, 0.75rem) / 1.5);
    box-shadow: 0 2px 8px rgb(0 0 0 / 0.4);
  }
  .placeholder {
    position: absolute;
    inset: 0;
    display: grid;
    place-content: center;
    justify-items: center;
    gap: 0.75rem;
    text-align: center;
    padding: 1rem;
  }
  .placeholder.calling {
    background: var(--rtc-call-overlay-background, rgb(0 0 0 / 0.62));
    grid-template-columns: minmax(0, 1fr);
    justify-content: stretch;
  }
  .placeholder.calling .name {
    font-size: 1.25rem;
  }
  .preview-video {
    width: 100%;
    height: 100%;
    object-fit: cover;
    transform: scaleX(-1); /* a mirror, as every self-view */
  }
  .placeholder [part='preview-failure'] {
    display: inline-flex;
    gap: 0.4rem;
    align-items: start;
    max-width: 28rem;
  }
  .placeholder [part='peer-camera-off'] {
    display: inline-flex;
    align-items: center;
    gap: 0.4rem;
    font-weight: 600;
  }
  .avatar {
    display: inline-grid;
    place-items: center;
    width: 4.5rem;
    height: 4.5rem;
    border-radius: 50%;
    font-size: 2rem;
    font-weight: 700;
    background: var(--rtc-call-accent, #0b57d0);
    color: var(--rtc-call-accent-foreground, #fff);
  }
  .pill {
    display: inline-flex;
    align-items: center;
    gap: 0.3rem;
    padding: 0.15rem 0.55rem;
    border-radius: 999px;
    font-size: 0.85rem;
    line-height: 1.5;
    background: var(--rtc-call-overlay-background, rgb(0 0 0 / 0.62));
    color: var(--rtc-call-overlay-foreground, #fff);
    font-variant-numeric: tabular-nums;
  }
  .pill .icon {
    width: 1rem;
    height: 1rem;
  }
  .badges {
    position: absolute;
    left: 0.5rem;
    bottom: 0.5rem;
    right: calc(var(--rtc-call-local-video-width, 28%) + 1rem);
    display: flex;
    flex-wrap: wrap;
    gap: 0.3rem;
  }
  .info {
    position: absolute;
    left: 0.5rem;
    top: 0.5rem;
    display: flex;
    flex-wrap: wrap;
    gap: 0.3rem;
  }
  .sharing {
    position: absolute;
    right: 0.5rem;
    top: 0.5rem;
  }

  /* ---- text ---- */
  .status {
    margin: 0;
    font-weight: 500;
  }
  .error {
    display: grid;
    gap: 0.5rem;
    justify-items: start;
  }
  .error p {
    display: flex;
    gap: 0.4rem;
    align-items: start;
    margin: 0;
    color: var(--rtc-call-danger, #b3261e);
    font-weight: 500;
  }
  .error p .icon {
    margin-top: 0.1em;
  }
  .form-hint {
    flex: 1 0 100%;
    margin-top: calc(-0.5 * var(--rtc-call-gap, 0.75rem));
  }
  .go-on {
    display: grid;
    gap: 0.25rem;
  }
  .hint {
    color: var(--rtc-call-muted-foreground, #4f5862);
    font-size: 0.85rem;
    font-weight: 400;
  }

  /* ---- forms ---- */
  form,
  .controls {
    display: flex;
    flex-wrap: wrap;
    align-items: end;
    gap: var(--rtc-call-gap, 0.75rem);
  }
  .controls {
    justify-content: center;
    align-items: start;
  }
  label {
    display: grid;
    gap: 0.25rem;
    flex: 1 1 10rem;
    font-weight: 500;
  }
  input,
  select {
    font: inherit;
    font-weight: 400;
    min-height: 2.5rem;
    padding: 0.4rem 0.6rem;
    border: 1px solid var(--rtc-call-border-color, #8b939c);
    border-radius: calc(var(--rtc-call-radius, 0.75rem) / 1.5);
    background: var(--rtc-call-input-background, #fff);
    color: inherit;
    min-width: 0;
    width: 100%;
  }

  /* ---- buttons ---- */
  button {
    font: inherit;
    font-weight: 500;
    min-height: 2.5rem;
    display: inline-flex;
    align-items: center;
    justify-content: center;
    gap: 0.4rem;
    padding: 0.4rem 1rem;
    border: 2px solid transparent;
    border-radius: calc(var(--rtc-call-radius, 0.75rem) / 1.5);
    background: var(--rtc-call-accent, #0b57d0);
    color: var(--rtc-call-accent-foreground, #fff);
    cursor: pointer;
  }
  button.secondary {
    background: var(--rtc-call-secondary, #e3e7ec);
    color: var(--rtc-call-secondary-foreground, #1b1f24);
    border-color: var(--rtc-call-border-color, #8b939c);
  }
  button:disabled {
    opacity: 0.5;
    border-style: dashed;
    cursor: not-allowed;
  }
  button:focus-visible,
  input:focus-visible,
  select:focus-visible {
    outline: 3px solid var(--rtc-call-focus-ring, #1a73e8);
    outline-offset: 2px;
  }

  /* Round icon buttons with their label below (visually hidden where the element is narrow). */
  .icon-button {
    flex-direction: column;
    gap: 0.25rem;
    min-width: 4.25rem;
    padding: 0;
    border: 0;
    background: none;
    color: var(--rtc-call-foreground, #1b1f24);
    font-size: 0.8rem;
    border-radius: calc(var(--rtc-call-radius, 0.75rem) / 1.5);
  }
  .icon-button .icon {
    box-sizing: content-box;
    width: 1.5rem;
    height: 1.5rem;
    padding: calc((var(--rtc-call-button-size, 3.25rem) - 1.5rem) / 2 - 2px);
    border-radius: 50%;
    border: 2px solid var(--rtc-call-border-color, #8b939c);
    background: var(--rtc-call-secondary, #e3e7ec);
    color: var(--rtc-call-secondary-foreground, #1b1f24);
  }
  .icon-button:hover:not(:disabled) .icon {
    filter: brightness(0.93);
  }
  .icon-button.pressed .icon {
    background: var(--rtc-call-pressed, #1b1f24);
    color: var(--rtc-call-pressed-foreground, #fff);
    border-color: var(--rtc-call-pressed, #1b1f24);
    box-shadow: inset 0 0 0 3px var(--rtc-call-pressed-foreground, #fff);
  }
  .icon-button[aria-expanded='true'] .icon {
    box-shadow: inset 0 0 0 3px var(--rtc-call-background, #fff);
    border-color: var(--rtc-call-accent, #0b57d0);
  }
  .icon-button.danger .icon {
    background: var(--rtc-call-danger, #b3261e);
    color: var(--rtc-call-danger-foreground, #fff);
    border-color: var(--rtc-call-danger, #b3261e);
  }
  .icon-button.accept .icon {
    background: var(--rtc-call-accept, #146c2e);
    color: var(--rtc-call-accept-foreground, #fff);
    border-color: var(--rtc-call-accept, #146c2e);
  }
  .icon-button.plain {
    min-width: 0;
    min-height: 0;
  }
  .icon-button.plain .icon {
    padding: 0.35rem;
    border-color: transparent;
    background: transparent;
    color: inherit;
  }
  .icon-button.plain .label,
  .icon-button .label {
    line-height: 1.2;
    text-align: center;
  }
  .icon-button.plain .label {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
  }
  .icon-button:focus-visible {
    outline: none;
  }
  .icon-button:focus-visible .icon {
    outline: 3px solid var(--rtc-call-focus-ring, #1a73e8);
    outline-offset: 2px;
  }
  @container (max-width: 26rem) {
    .placeholder {
      padding-bottom: 30%;
    }
    .controls:not(.incoming .controls) .icon-button .label {
      position: absolute;
      width: 1px;
      height: 1px;
      overflow: hidden;
      clip-path: inset(50%);
      white-space: nowrap;
    }
    .controls:not(.incoming .controls) .icon-button {
      min-width: 0;
    }
    .controls {
      gap: 0.5rem;
    }
  }
  span.devices-toggle {
    display: contents;
  }
  .icon-button:disabled {
    opacity: 0.45;
  }
  .icon-button:disabled .icon {
    border-style: dashed;
  }
  form .icon-button {
    align-self: end;
  }

  /* ---- panels ---- */
  .incoming,
  .device-menu,
  .notice,
  .missed {
    border: 1px solid var(--rtc-call-border-color, #c8ccd2);
    border-radius: var(--rtc-call-radius, 0.75rem);
    background: var(--rtc-call-panel-background, #f4f6f8);
    padding: 0.75rem;
  }
  .incoming {
    display: grid;
    gap: 0.75rem;
    justify-items: center;
  }
  .incoming-title {
    margin: 0;
    display: grid;
    justify-items: center;
    gap: 0.5rem;
    font-size: 1.15rem;
    max-width: 100%;
  }
  .incoming .confirm {
    margin: 0;
    text-align: center;
  }
  button.danger:not(.icon-button) {
    background: var(--rtc-call-danger, #b3261e);
    color: var(--rtc-call-danger-foreground, #fff);
  }
  button .name {
    max-width: 14rem;
  }
  .device-menu {
    display: flex;
    flex-wrap: wrap;
    gap: 0.75rem;
    align-items: end;
  }
  .device-menu .field {
    display: grid;
    gap: 0.25rem;
    flex: 1 1 12rem;
    font-weight: 500;
  }
  .notice {
    display: flex;
    align-items: center;
    justify-content: space-between;
    gap: 0.5rem;
  }
  .notice p {
    margin: 0;
  }
  .missed h3 {
    display: flex;
    align-items: center;
    gap: 0.4rem;
    margin: 0 0 0.5rem;
    font-size: 1rem;
  }
  .missed ul {
    list-style: none;
    margin: 0 0 0.5rem;
    padding: 0;
    display: grid;
    gap: 0.5rem;
  }
  .missed li {
    display: flex;
    align-items: center;
    justify-content: space-between;
    gap: 0.5rem;
  }
  .missed .who {
    display: grid;
  }
  .missed li {
    min-width: 0;
  }
  .missed .meta,
  .missed .count {
    color: var(--rtc-call-muted-foreground, #4f5862);
    font-size: 0.85rem;
    font-weight: 400;
  }
  .missed li .icon-button {
    flex-direction: row;
  }
  .missed li .icon-button .label {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
  }
  .missed li .icon-button .icon {
    --rtc-call-button-size: 2.5rem;
  }
  @media (forced-colors: active) {
    .icon-button.pressed .icon {
      border-width: 4px;
      border-style: double;
    }
  }
`
