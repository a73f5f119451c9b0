// IDs are integers in storage and decimal strings in JSON.
export const idOut = (id: number | null | undefined) => (id === null || id === undefined ? "0" : String(id));
