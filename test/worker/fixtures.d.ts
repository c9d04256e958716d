declare module "*.manifest.json" {
  const manifest: Record<string, unknown> & { version: string };
  export default manifest;
}
