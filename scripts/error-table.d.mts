// Types of scripts/error-table.mjs for test/error-codes.test.ts.
export declare const START: string;
export declare const END: string;
export declare function errorTable(codes: Record<string, { status: number; when: string }>): string;
export declare function tableIn(readme: string): string | undefined;
export declare function withTable(readme: string, table: string): string;
