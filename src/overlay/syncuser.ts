/**
 * The syncuser overlay's merge (the `it.syncuser()` helper): the rule lives in domain/accounts.ts, shared
 * with `image syncuser`, so that what a node sees and what the image's files are owned by agree.
 */
export { mergeAccounts } from "../domain/accounts";
