import { powerVerb } from "./run";

/** `drover power soft PATTERN` */
export default powerVerb("soft");
