/**
 * Registers as the database keeps them: one row per key in "Register", the
 * value as JSON. Read one at a time or by a partial key (the rare rebuild of a
 * whole group); batches read and write them in bulk (register-batch.ts).
 */
import type { Tx } from "../db/open.js";
import type { Register, RegisterKey, RegisterKind } from "./apply-rules.js";

export type Row = { kind: string; groupId: string; incarnation: string; fileName: string; userId: string; hlc: string; live: boolean; value: string };

export const toRegister = (row: Row): Register => ({ ...row, kind: row.kind as RegisterKind, value: JSON.parse(row.value) as Record<string, unknown> });

const idOf = (k: RegisterKey) => ({
  kind_groupId_incarnation_fileName_userId: { kind: k.kind, groupId: k.groupId, incarnation: k.incarnation, fileName: k.fileName, userId: k.userId },
});

export async function readRegister(tx: Tx, key: RegisterKey): Promise<Register | undefined> {
  const row = await tx.register.findUnique({ where: idOf(key) });
  return row ? toRegister(row) : undefined;
}

export async function readRegisters(tx: Tx, where: Partial<RegisterKey>): Promise<Register[]> {
  return (await tx.register.findMany({ where })).map(toRegister);
}
