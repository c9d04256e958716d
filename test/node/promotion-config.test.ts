// The promotion settings: one parser for the Worker and `hsrl publish`, defaults that match wrangler.toml, and the
// held-out file format the export ships.
import { describe, expect, it } from "vitest";
import { canaryConfigOf, gateConfigOf, PROMOTION_VARS, parseHeldOut } from "../../core/promotion";
import { promotionVars } from "../../scripts/deploy/publish";

describe("promotion settings", () => {
  it("wrangler.toml's [vars] say what the code's defaults are", () => {
    const vars = promotionVars();
    expect(Object.keys(vars).sort()).toEqual([...PROMOTION_VARS].sort());
    expect(gateConfigOf(vars)).toEqual(gateConfigOf({}));
    expect(canaryConfigOf(vars)).toEqual(canaryConfigOf({}));
  });

  it("falls back on bad values and clamps out-of-range ones", () => {
    expect(canaryConfigOf({ CANARY_SHARE: "lots" }).share).toBe(0.1);
    expect(canaryConfigOf({ CANARY_SHARE: "" }).share).toBe(0.1);
    expect(canaryConfigOf({ CANARY_SHARE: "7" }).share).toBe(1);
    expect(canaryConfigOf({ CANARY_SHARE: "0" }).share).toBe(0);
    expect(gateConfigOf({ GATE_MAX_SESSIONS: "100000" }).maxSessions).toBe(2000);
    expect(gateConfigOf({ GATE_MIN_SESSIONS: "-3" }).minSessions).toBe(1);
    expect(gateConfigOf({ GATE_MARGIN: "0.2" }).margin).toBe(0.2);
  });

  it("reads a held-out set, and refuses anything else", () => {
    const set = { format: "hsrl-heldout/1", source: "test split", examples: [{ history: ["a", "b"], target: "c" }] };
    expect(parseHeldOut(set)).toEqual(set);
    expect(parseHeldOut({ ...set, format: "other" })).toBeNull();
    expect(parseHeldOut({ ...set, examples: [{ history: [1], target: "c" }] })).toBeNull();
    expect(parseHeldOut(null)).toBeNull();
  });
});
