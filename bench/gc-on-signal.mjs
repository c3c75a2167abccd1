// Bench only (`node --expose-gc --import bench/gc-on-signal.mjs …`): SIGUSR2 runs a full garbage
// collection, so the memory section can read a process's RSS once with what V8 has not collected
// yet and once without it. Nothing else changes: the flag only exposes gc().
process.on('SIGUSR2', () => globalThis.gc?.());
