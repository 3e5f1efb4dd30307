#pragma once

#include <vector>

#include "sim/scenario.h"

// Each scenarios_*.cc file registers its scenarios here (one behaviour per scenario).
namespace raftkv::sim {

void append_election_scenarios(std::vector<Scenario>& out);     // scenarios_election.cc
void append_agreement_scenarios(std::vector<Scenario>& out);    // scenarios_agreement.cc
void append_economy_scenarios(std::vector<Scenario>& out);      // scenarios_economy.cc
void append_persistence_scenarios(std::vector<Scenario>& out);  // scenarios_persistence.cc
void append_client_scenarios(std::vector<Scenario>& out);       // scenarios_client.cc
void append_hostile_scenarios(std::vector<Scenario>& out);      // scenarios_hostile.cc
void append_snapshot_scenarios(std::vector<Scenario>& out);     // scenarios_snapshot.cc
void append_session_scenarios(std::vector<Scenario>& out);      // scenarios_sessions.cc
void append_kv_scenarios(std::vector<Scenario>& out);           // scenarios_kv.cc
void append_expiry_scenarios(std::vector<Scenario>& out);       // scenarios_expiry.cc
void append_membership_scenarios(std::vector<Scenario>& out);   // scenarios_membership.cc
void append_large_write_scenarios(std::vector<Scenario>& out);  // scenarios_large_writes.cc

}  // namespace raftkv::sim
