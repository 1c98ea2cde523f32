import { powerVerb } from "./run";

/** `drover power cycle PATTERN` */
export default powerVerb("cycle");
