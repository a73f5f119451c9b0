// The content pieces charts build on: names resolved as filters and sorts resolve them (and the
// SQL of their values in a module's typed row), the FROM over those rows, and the filter compiler.
// Charts never read `data` any other way.
export { orderedValue, resolveField, storedValue, type OwnColumn, type ResolvedField } from "../content/field-resolver";
export { layoutOf } from "../content/storage";
export { itemColumn, itemsFrom, needsDocument } from "../module-model/typed-table";
export { compileFilter } from "../content/filter";
