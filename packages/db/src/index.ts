export { createDb, type Db } from './client.js';
export { AccountRepository } from './account.repository.js';
export { ScanRepository, type ScanWithImages, type NewScan, type NewImageScan, type ImageResult, type ImageCompletion, type ScanPatch } from './scan.repository.js';
export { BulkScanRepository, type NewBulkScan } from './bulk-scan.repository.js';
export { ScheduleRepository } from './schedule.repository.js';
export { ImageScanWindowRepository, type WindowKey } from './image-scan-window.repository.js';
export { migrate, ensureDatabase, readMigrations, MIGRATIONS_DIR, MigrationError } from './migrate.js';
export { Prisma } from './generated/prisma/client.js';
export type { CloudAccount, Scan, ImageScan, Finding, ImageScanWindow, BulkScan, Schedule } from './generated/prisma/client.js';
