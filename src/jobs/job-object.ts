import { DurableObject } from "cloudflare:workers";

/** One per job: the source of truth for its state and append-only log. */
export class JobObject extends DurableObject<Env> {}
