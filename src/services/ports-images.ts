/**
 * The port the image service needs from storage: one row per image in the `images` table, its metadata
 * kept as a JSON document (`info`). Files live on disk under `<dataDir>/images/<name>/`.
 */
export interface ImageRow<T = Record<string, unknown>> {
  name: string;
  createdAt: number;
  updatedAt: number;
  info: T;
}

export interface ImageStore {
  list(): ImageRow[];
  get(name: string): ImageRow | undefined;
  /** Inserts or replaces the row (created_at kept on replace). */
  put(name: string, info: Record<string, unknown>): void;
  delete(name: string): void;
  /** Renames a row; false when `from` does not exist or `to` does. */
  rename(from: string, to: string): boolean;
}
