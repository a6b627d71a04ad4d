//! Runtime API of the hash jobs: what workers and clients poll, served over RPC by the node as
//! `hashJobs_claimable` and `hashJobs_subjobs`. Every read returns one bounded page
//! ([`appchain_primitives::page`]); pass `next` back as `after` for the following one.

use crate::{JobId, SubjobFilter, SubjobId};
use appchain_primitives::page::Page;
use codec::Codec;

sp_api::decl_runtime_apis! {
	/// Reads of hash jobs and subjobs.
	pub trait HashJobsApi<Job, Subjob>
	where
		Job: Codec,
		Subjob: Codec,
	{
		/// Jobs a claim can take nonces from (a returned range, or fresh nonces and room for
		/// another subjob), after job `after` in storage order.
		fn claimable_jobs(after: Option<JobId>, limit: u32) -> Page<(JobId, Job), JobId>;

		/// Open subjobs that `filter` selects, after subjob `after` in storage order.
		fn subjobs(
			filter: SubjobFilter,
			after: Option<SubjobId>,
			limit: u32,
		) -> Page<(SubjobId, Subjob), SubjobId>;
	}
}
