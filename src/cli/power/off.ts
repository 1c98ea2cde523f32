import { powerVerb } from "./run";

/** `drover power off PATTERN` */
export default powerVerb("off");
