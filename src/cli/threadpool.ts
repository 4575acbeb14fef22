// Imported by the server's entry point before anything that could use libuv's thread pool:
// the pool takes its size from the environment once, at its first use (config/threadpool.ts).
import { sizeThreadpool } from '../config/threadpool.js';

sizeThreadpool();

export {};
