// A study's group in the analysis views (Selectivity, Pruning, Compare): its runs' analyses put
// together — the class selectivity of all their units, block by block, and the mean pruning curve
// over runs with their spread — from their probes at one point of training where every run of the
// group has probes, else from their best checkpoints.
#pragma once

#include <QColor>
#include <QString>
#include <QStringList>

#include <map>
#include <vector>

#include "analysis_store.h"

namespace gex::ui {

class RunCatalog;
struct RunGroup;
struct RunRecord;

bool has_probes(const RunRecord& run);

// What a view shows as one: a run, or a group with its runs that have a checkpoint.
struct Shown {
  QString key;                    // the run's path or the group's key
  const RunGroup* group = nullptr;
  std::vector<const RunRecord*> runs;
  bool probed = false;            // a group's runs all have probes: each at the timeline's point
};
// Runs' paths and groups' keys, in order; those the catalog does not hold are left out.
std::vector<Shown> shown_of(const RunCatalog& catalog, const QStringList& keys);
// Its colour (the group's, as its curves are drawn) and names: the run's, or "<group> (3 runs)",
// "<group> (2 of 3 runs)" with the runs pooled; short: where space is short.
QColor colour_of(const Shown& shown);
QString name_of(const Shown& shown, size_t pooled);
QString short_name_of(const Shown& shown);
// The runs the views' timeline holds: each run, a group's runs where all have probes, else those
// without (which it offers to probe) — so that no slider moves a panel showing best checkpoints.
QStringList timeline_runs(const std::vector<Shown>& shown);

// A group's units together, block by block (the blocks in the first run's order).
std::vector<LayerSelectivity> pool_selectivity(const std::vector<std::vector<LayerSelectivity>>& runs);
// ratio → top-1 error, the repeats of a curve averaged.
std::map<double, double> mean_by_ratio(const std::vector<PruningPoint>& points);
// A group's curve of one order: each run's (its repeats averaged) as one repeat, at the ratios
// every run has — so that the mean over repeats is the mean over runs, and their min–max the runs'.
std::vector<PruningPoint> pool_pruning(const std::vector<std::vector<PruningPoint>>& runs);

}  // namespace gex::ui
