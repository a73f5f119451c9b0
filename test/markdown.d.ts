// Vite's `?raw` imports: a file's text as a string (test/error-codes.test.ts reads the README so).
declare module "*.md?raw" {
  const text: string;
  export default text;
}
