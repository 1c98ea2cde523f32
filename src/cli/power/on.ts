import { powerVerb } from "./run";

/** `drover power on PATTERN` */
export default powerVerb("on");
