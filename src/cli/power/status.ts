import { powerVerb } from "./run";

/** `drover power status PATTERN` */
export default powerVerb("status");
