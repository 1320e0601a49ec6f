//! The shared election core: quorum rules, vote tallies, the one-vote-per-epoch
//! keeper, epochs, failure detection and leases.
