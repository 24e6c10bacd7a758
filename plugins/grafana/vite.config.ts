// Builds dist/module.js, the frontend Grafana loads: an AMD module (Grafana's
// SystemJS loader runs AMD) whose @grafana/*, react and rxjs imports are left
// to Grafana, which provides its own copies. Also runs the unit tests (vitest).
import { cpSync } from 'node:fs';
import { defineConfig, Plugin } from 'vite';

/** Grafana provides these at runtime; bundling them would break the plugin. */
const externals = [/^@grafana\//, /^react(-dom)?(\/.*)?$/, /^rxjs(\/.*)?$/, /^@emotion\//, 'lodash', 'moment'];

/** copyStatic puts plugin.json, the logo and the README beside module.js. */
function copyStatic(): Plugin {
  return {
    name: 'highway-copy-static',
    apply: 'build',
    writeBundle() {
      cpSync('src/plugin.json', 'dist/plugin.json');
      cpSync('src/img', 'dist/img', { recursive: true });
      cpSync('README.md', 'dist/README.md');
      cpSync('dashboards', 'dist/dashboards', { recursive: true });
    },
  };
}

export default defineConfig({
  esbuild: { jsx: 'transform', jsxFactory: 'React.createElement', jsxFragment: 'React.Fragment' },
  // React's production build in dist/; tests need its development build (act).
  define: process.env.VITEST ? {} : { 'process.env.NODE_ENV': JSON.stringify('production') },
  publicDir: false,
  build: {
    outDir: 'dist',
    // dist/ also holds the Go backend's binaries; keep them.
    emptyOutDir: false,
    sourcemap: true,
    modulePreload: false,
    target: 'es2020',
    rollupOptions: {
      input: 'src/module.ts',
      external: externals,
      preserveEntrySignatures: 'strict',
      output: {
        format: 'amd',
        entryFileNames: 'module.js',
        inlineDynamicImports: true,
      },
    },
  },
  plugins: [copyStatic()],
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    testTimeout: 20000,
    // @grafana/ui imports CSS from its dependencies; let Vite handle those files.
    server: { deps: { inline: [/@grafana\//, /@rc-component/, /rc-[a-z-]+/] } },
    css: false,
  },
});
