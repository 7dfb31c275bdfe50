import { css } from 'lit'

/** Every colour and size comes from a `--rtc-call-*` custom property with a fallback. */
export const styles = css`
  :host {
    display: block;
    box-sizing: border-box;
    max-width: var(--rtc-call-max-width, 40rem);
    padding: var(--rtc-call-padding, 0.75rem);
    border: var(--rtc-call-border, 1px solid #c8ccd2);
    border-radius: var(--rtc-call-radius, 0.5rem);
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
    gap: var(--rtc-call-gap, 0.5rem);
  }
  .media {
    position: relative;
    aspect-ratio: 4 / 3;
    border-radius: var(--rtc-call-radius, 0.5rem);
    overflow: hidden;
    background: var(--rtc-call-video-background, #111);
  }
  video {
    display: block;
    background: var(--rtc-call-video-background, #111);
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
    border: 2px solid var(--rtc-call-background, #fff);
    border-radius: calc(var(--rtc-call-radius, 0.5rem) / 2);
  }
  .status {
    margin: 0;
  }
  .error {
    margin: 0;
    color: var(--rtc-call-danger, #b3261e);
  }
  form,
  .controls {
    display: flex;
    flex-wrap: wrap;
    align-items: end;
    gap: var(--rtc-call-gap, 0.5rem);
  }
  label {
    display: grid;
    gap: 0.25rem;
    flex: 1 1 10rem;
  }
  input {
    font: inherit;
    padding: 0.4rem 0.5rem;
    border: 1px solid var(--rtc-call-border-color, #8b939c);
    border-radius: calc(var(--rtc-call-radius, 0.5rem) / 2);
    background: var(--rtc-call-input-background, #fff);
    color: inherit;
  }
  button {
    font: inherit;
    padding: 0.4rem 0.9rem;
    border: 1px solid transparent;
    border-radius: calc(var(--rtc-call-radius, 0.5rem) / 2);
    background: var(--rtc-call-accent, #0b57d0);
    color: var(--rtc-call-accent-foreground, #fff);
    cursor: pointer;
  }
  button.secondary,
  button[aria-pressed='true'] {
    background: var(--rtc-call-secondary, #e3e7ec);
    color: var(--rtc-call-foreground, #1b1f24);
  }
  button.danger {
    background: var(--rtc-call-danger, #b3261e);
    color: var(--rtc-call-danger-foreground, #fff);
  }
  button:disabled {
    opacity: 0.55;
    cursor: default;
  }
  button:focus-visible,
  input:focus-visible {
    outline: 3px solid var(--rtc-call-focus-ring, #7aa7ff);
    outline-offset: 2px;
  }
`
