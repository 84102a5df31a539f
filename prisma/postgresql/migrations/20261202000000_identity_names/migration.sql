-- Derived from prisma/migrations/20261202000000_identity_names/migration.sql (sha256 a43ef5a78409140e02fd211387d66294a00b180619aa6bbf64b0cd4b0df53739) by `npm run db:postgres-schema`.
-- AlterTable
ALTER TABLE "User" ADD COLUMN     "name" TEXT NOT NULL;

-- AlterTable
ALTER TABLE "Group" ADD COLUMN     "name" TEXT NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "User_name_key" ON "User"("name");

-- CreateIndex
CREATE UNIQUE INDEX "Group_name_key" ON "Group"("name");

