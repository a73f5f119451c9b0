// The content pieces charts build on, owned by src/content: the stored value of a field in a
// `content` row (and its comparison form, the expression content's per-field indexes hold), the
// live-items condition, and the filter compiler. Charts never read `data` any other way.
export { compareExpr, liveContentWhere, valueExpr } from "../content/storage";
export { compileFilter } from "../content/filter";
