import { closeSync, openSync, readSync } from "node:fs";
import type { ArtifactPart, BootArtifact } from "./ports";

/** The files of an artifact, in order (one for an artifact that is a whole file). */
export function artifactParts(a: BootArtifact): readonly ArtifactPart[] {
  return "parts" in a ? a.parts : [{ path: a.path, size: a.size }];
}

/** The parts that hold bytes [start, end), each with the range to read from it. */
function slices(parts: readonly ArtifactPart[], start: number, end: number): { path: string; from: number; to: number }[] {
  const out: { path: string; from: number; to: number }[] = [];
  let base = 0;
  for (const p of parts) {
    const from = Math.max(start, base);
    const to = Math.min(end, base + p.size);
    const at = (p.offset ?? 0) - base;
    if (from < to) out.push({ path: p.path, from: from + at, to: to + at });
    base += p.size;
  }
  return out;
}

/**
 * Bytes [start, end) of an artifact's parts, read now. A part shorter than its recorded size (it was
 * replaced or removed) is an error, never a silently shorter answer.
 */
export function readParts(parts: readonly ArtifactPart[], start: number, end: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, end - start));
  let o = 0;
  for (const s of slices(parts, start, end)) {
    const fd = openSync(s.path, "r");
    try {
      let pos = s.from;
      while (pos < s.to) {
        const n = readSync(fd, out, o, s.to - pos, pos);
        if (n === 0) throw new Error(`${s.path} is shorter than recorded (it changed while being served)`);
        pos += n;
        o += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

/** The whole artifact, read now (tests, `overlay build --show`). */
export function readArtifact(a: BootArtifact): Uint8Array {
  return readParts(artifactParts(a), 0, a.size);
}

/** Bytes [start, end) of parts as a stream of chunks, part after part (for artifacts too large to read at once). */
export async function* streamParts(parts: readonly ArtifactPart[], start: number, end: number): AsyncGenerator<Uint8Array> {
  for (const s of slices(parts, start, end)) {
    const reader = Bun.file(s.path).slice(s.from, s.to).stream().getReader();
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) yield r.value;
    } finally {
      reader.releaseLock();
    }
  }
}
