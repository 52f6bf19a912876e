// Vite build of the DApp page: web/ -> web/dist/, served by the API at `/` (backend/api/web.py).
// `npm run build:web` (run by `make setup`). `npm run dev:web` serves it on :5173 and proxies
// /v1 to the API on :8000, for working on the page with live reload.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    port: 5173,
    proxy: { "/v1": { target: "http://127.0.0.1:8000", changeOrigin: false } },
  },
});
