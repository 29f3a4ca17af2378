// Vite's client types: import.meta.glob, `?url` imports, import.meta.env.
/// <reference types="vite/client" />
