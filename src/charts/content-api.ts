// The content pieces charts build on, owned by src/content: a field's value in a module's typed
// row (and its comparison form, as the typed table's indexes hold it), the FROM over those rows,
// and the filter compiler. Charts never read `data` any other way.
export { compareExpr, layoutOf, valueExpr } from "../content/storage";
export { itemColumn, itemsFrom, needsDocument } from "../module-model/typed-table";
export { compileFilter } from "../content/filter";
