-- Shared folders (issue 18): a folder is one shared item whose bytes are its files in a row; the manifest
-- (JSON [{path, size}] in that order) and its file count say how to lay them out. Null for a plain file.
-- AlterTable
ALTER TABLE "SharedFile" ADD COLUMN "fileCount" INTEGER;
ALTER TABLE "SharedFile" ADD COLUMN "manifest" TEXT;
