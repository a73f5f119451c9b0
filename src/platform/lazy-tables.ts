// A Durable Object's SQLite tables made on its first write, so that addressing an object that
// holds nothing (a 404 probe, an unknown ID) leaves no storage behind. `exist()` answers from
// memory once the tables are known, instead of a sqlite_master query per call.
export class LazyTables {
  private ready = false;

  /** `ddl`: the CREATE TABLE IF NOT EXISTS statements; `probe`: the table whose presence means "made". */
  constructor(
    private readonly sql: SqlStorage,
    private readonly ddl: readonly string[],
    private readonly probe: string,
  ) {}

  /** Runs the DDL (idempotent), whatever this instance believes. */
  create() {
    for (const statement of this.ddl) this.sql.exec(statement);
    this.ready = true;
  }

  /** Makes the tables unless this instance already knows they exist. */
  ensure() {
    if (!this.ready) this.create();
  }

  /** After a rolled-back transaction or deleteAll(): the tables may be gone. */
  forget() {
    this.ready = false;
  }

  exist(): boolean {
    if (!this.ready) this.ready = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", this.probe).toArray().length > 0;
    return this.ready;
  }
}
