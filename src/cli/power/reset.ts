import { powerVerb } from "./run";

/** `drover power reset PATTERN` */
export default powerVerb("reset");
