export type Scope = "read" | "write" | "admin";

export type User = { sub: string; scopes: Set<Scope> };

export type AppEnv = {
  Bindings: Env;
  Variables: { requestId: string; user: User; routePath: string };
};
