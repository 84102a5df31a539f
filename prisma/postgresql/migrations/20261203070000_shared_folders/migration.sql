-- Derived from prisma/migrations/20261203070000_shared_folders/migration.sql (sha256 06390022f4921b1a07cd517e9c6ec30ad4115d5ded7a35f67c685aafe420352e) by `npm run db:postgres-schema`.
-- AlterTable
ALTER TABLE "SharedFile" ADD COLUMN     "fileCount" INTEGER,
ADD COLUMN     "manifest" TEXT;

