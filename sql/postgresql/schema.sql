-- Generated from pv_monitor.store.models by `pv-monitor db ddl --write sql`; do not edit.
-- The schema changes only through Alembic migrations (pv-monitor db upgrade).

CREATE TABLE study (
	study_id SERIAL NOT NULL, 
	study_key VARCHAR(64) NOT NULL, 
	title VARCHAR(255), 
	CONSTRAINT pk_study PRIMARY KEY (study_id), 
	CONSTRAINT uq_study_study_key UNIQUE (study_key)
);

COMMENT ON TABLE study IS 'A trial, registry or programme whose exports are loaded.';

COMMENT ON COLUMN study.study_id IS 'Surrogate key.';

COMMENT ON COLUMN study.study_key IS 'Study identifier as in the source (SDTM STUDYID).';

COMMENT ON COLUMN study.title IS 'Study title, when known.';

CREATE TABLE product (
	product_id SERIAL NOT NULL, 
	generic_name VARCHAR(255) NOT NULL, 
	brand_name VARCHAR(255), 
	target_antigen VARCHAR(32), 
	costimulatory_domain VARCHAR(32), 
	vector VARCHAR(32), 
	is_approved BOOLEAN NOT NULL, 
	source TEXT, 
	CONSTRAINT pk_product PRIMARY KEY (product_id), 
	CONSTRAINT uq_product_generic_name UNIQUE (generic_name), 
	CONSTRAINT uq_product_brand_name UNIQUE (brand_name)
);

COMMENT ON TABLE product IS 'CAR-T products (approved ones seeded from pv_monitor.reference).';

COMMENT ON COLUMN product.product_id IS 'Surrogate key.';

COMMENT ON COLUMN product.generic_name IS 'Generic (INN) name, e.g. axicabtagene ciloleucel.';

COMMENT ON COLUMN product.brand_name IS 'Brand name, e.g. Yescarta; empty for investigational products.';

COMMENT ON COLUMN product.target_antigen IS 'Targeted antigen, e.g. CD19 or BCMA; empty when the source does not say.';

COMMENT ON COLUMN product.costimulatory_domain IS 'Costimulatory domain, e.g. CD28 or 4-1BB.';

COMMENT ON COLUMN product.vector IS 'Gene-transfer vector, e.g. lentivirus.';

COMMENT ON COLUMN product.is_approved IS 'True for products with a marketing authorisation.';

COMMENT ON COLUMN product.source IS 'Where the product facts come from (reference and evidence tag).';

CREATE TABLE pipeline_run (
	pipeline_run_id SERIAL NOT NULL, 
	run_by VARCHAR(255) NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	status VARCHAR(32) NOT NULL, 
	mode VARCHAR(32) NOT NULL, 
	last_load_batch_id INTEGER NOT NULL, 
	criteria JSON NOT NULL, 
	subjects INTEGER NOT NULL, 
	counts JSON, 
	pv_monitor_version VARCHAR(32) NOT NULL, 
	CONSTRAINT pk_pipeline_run PRIMARY KEY (pipeline_run_id), 
	CONSTRAINT ck_pipeline_run_status CHECK (status IN ('running', 'committed', 'failed')), 
	CONSTRAINT ck_pipeline_run_mode CHECK (mode IN ('incremental', 'full'))
);

COMMENT ON TABLE pipeline_run IS 'Pipeline runs: the load batches they covered, criteria versions, counts.';

COMMENT ON COLUMN pipeline_run.pipeline_run_id IS 'Surrogate key.';

COMMENT ON COLUMN pipeline_run.run_by IS 'User or process that ran it.';

COMMENT ON COLUMN pipeline_run.started_at IS 'Start (UTC).';

COMMENT ON COLUMN pipeline_run.finished_at IS 'End (UTC).';

COMMENT ON COLUMN pipeline_run.status IS 'running, committed or failed.';

COMMENT ON COLUMN pipeline_run.mode IS 'incremental (subjects touched since the last run) or full.';

COMMENT ON COLUMN pipeline_run.last_load_batch_id IS 'Highest load batch whose rows this run took into account.';

COMMENT ON COLUMN pipeline_run.criteria IS 'Criteria, score and closure-rule versions used (JSON).';

COMMENT ON COLUMN pipeline_run.subjects IS 'Subjects recomputed.';

COMMENT ON COLUMN pipeline_run.counts IS 'Rows written per table (JSON).';

COMMENT ON COLUMN pipeline_run.pv_monitor_version IS 'pv-monitor version that ran it.';

CREATE TABLE audit_log (
	audit_log_id BIGSERIAL NOT NULL, 
	occurred_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	actor VARCHAR(255) NOT NULL, 
	action VARCHAR(32) NOT NULL, 
	table_name VARCHAR(32) NOT NULL, 
	record_key VARCHAR(64) NOT NULL, 
	old_value TEXT, 
	new_value TEXT, 
	reason TEXT, 
	previous_sha256 VARCHAR(64) NOT NULL, 
	row_sha256 VARCHAR(64) NOT NULL, 
	CONSTRAINT pk_audit_log PRIMARY KEY (audit_log_id), 
	CONSTRAINT uq_audit_log_row_sha256 UNIQUE (row_sha256)
);

CREATE INDEX ix_audit_log_occurred_at ON audit_log (occurred_at);

CREATE INDEX ix_audit_log_table_key ON audit_log (table_name, record_key);

COMMENT ON TABLE audit_log IS 'Append-only, hash-chained audit trail (21 CFR 11.10(e)).';

COMMENT ON COLUMN audit_log.audit_log_id IS 'Sequence of entries.';

COMMENT ON COLUMN audit_log.occurred_at IS 'Server time stamp (UTC).';

COMMENT ON COLUMN audit_log.actor IS 'Who made the change (user name or process).';

COMMENT ON COLUMN audit_log.action IS 'create, update, delete, load, transition, ...';

COMMENT ON COLUMN audit_log.table_name IS 'Table of the changed record.';

COMMENT ON COLUMN audit_log.record_key IS 'Key of the changed record.';

COMMENT ON COLUMN audit_log.old_value IS 'Changed fields before, as canonical JSON; empty for a creation.';

COMMENT ON COLUMN audit_log.new_value IS 'Changed fields after, as canonical JSON; empty for a deletion.';

COMMENT ON COLUMN audit_log.reason IS 'Reason for the change.';

COMMENT ON COLUMN audit_log.previous_sha256 IS 'row_sha256 of the previous entry (64 zeros for the first).';

COMMENT ON COLUMN audit_log.row_sha256 IS 'SHA-256 over previous_sha256 and this entry''s canonical content.';

CREATE OR REPLACE FUNCTION pv_monitor_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION pv_monitor_refuse_change();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION pv_monitor_refuse_change();

CREATE TABLE app_user (
	app_user_id SERIAL NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	display_name VARCHAR(255), 
	role VARCHAR(32) NOT NULL, 
	password_hash TEXT NOT NULL, 
	is_active BOOLEAN NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_app_user PRIMARY KEY (app_user_id), 
	CONSTRAINT ck_app_user_role CHECK (role IN ('clinician', 'safety_officer', 'data_manager', 'admin')), 
	CONSTRAINT uq_app_user_username UNIQUE (username)
);

COMMENT ON TABLE app_user IS 'Users and roles (clinician, safety_officer, data_manager, admin).';

COMMENT ON COLUMN app_user.app_user_id IS 'Surrogate key.';

COMMENT ON COLUMN app_user.username IS 'Login name.';

COMMENT ON COLUMN app_user.display_name IS 'Name shown in the dashboard.';

COMMENT ON COLUMN app_user.role IS 'clinician, safety_officer, data_manager, admin.';

COMMENT ON COLUMN app_user.password_hash IS 'Salted password hash (never plain).';

COMMENT ON COLUMN app_user.is_active IS 'False once access is revoked.';

COMMENT ON COLUMN app_user.created_at IS 'When the user was created (UTC).';

CREATE TABLE analysis_run (
	analysis_run_id SERIAL NOT NULL, 
	run_key VARCHAR(64) NOT NULL, 
	method_family VARCHAR(32) NOT NULL, 
	method VARCHAR(255) NOT NULL, 
	parameters JSON, 
	thresholds JSON, 
	data_from DATE, 
	data_lock_point DATE, 
	database_sha256 VARCHAR(64), 
	software_version VARCHAR(32) NOT NULL, 
	run_by VARCHAR(255) NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	hits INTEGER NOT NULL, 
	CONSTRAINT pk_analysis_run PRIMARY KEY (analysis_run_id), 
	CONSTRAINT uq_analysis_run_run_key UNIQUE (run_key), 
	CONSTRAINT ck_analysis_run_method_family CHECK (method_family IN ('disproportionality', 'rate_vs_reference', 'sequential', 'bayesian', 'rule_based_clinical'))
);

COMMENT ON TABLE analysis_run IS 'Signal-detection runs (method, parameters, thresholds, data cut, version).';

COMMENT ON COLUMN analysis_run.analysis_run_id IS 'Surrogate key.';

COMMENT ON COLUMN analysis_run.run_key IS 'Human-facing run identifier.';

COMMENT ON COLUMN analysis_run.method_family IS 'disproportionality, rate_vs_reference, sequential, bayesian or rule_based_clinical.';

COMMENT ON COLUMN analysis_run.method IS 'Method, e.g. gps, prr, bernoulli_cusum.';

COMMENT ON COLUMN analysis_run.parameters IS 'Method parameters (JSON).';

COMMENT ON COLUMN analysis_run.thresholds IS 'Thresholds applied (JSON).';

COMMENT ON COLUMN analysis_run.data_from IS 'Start of the data interval.';

COMMENT ON COLUMN analysis_run.data_lock_point IS 'Data-lock point (end).';

COMMENT ON COLUMN analysis_run.database_sha256 IS 'Content hash of the data analysed.';

COMMENT ON COLUMN analysis_run.software_version IS 'pv-monitor version.';

COMMENT ON COLUMN analysis_run.run_by IS 'Who ran it.';

COMMENT ON COLUMN analysis_run.started_at IS 'When (UTC).';

COMMENT ON COLUMN analysis_run.hits IS 'Combinations over threshold.';

CREATE TABLE site (
	site_id SERIAL NOT NULL, 
	study_id INTEGER NOT NULL, 
	site_key VARCHAR(64) NOT NULL, 
	name VARCHAR(255), 
	country VARCHAR(32), 
	CONSTRAINT pk_site PRIMARY KEY (site_id), 
	CONSTRAINT uq_site_study_id_site_key UNIQUE (study_id, site_key), 
	CONSTRAINT fk_site_study_id_study FOREIGN KEY(study_id) REFERENCES study (study_id)
);

COMMENT ON TABLE site IS 'A clinical site of a study; clinicians see only their sites'' subjects.';

COMMENT ON COLUMN site.site_id IS 'Surrogate key.';

COMMENT ON COLUMN site.study_id IS 'Study the site belongs to.';

COMMENT ON COLUMN site.site_key IS 'Site identifier as in the source (SITEID).';

COMMENT ON COLUMN site.name IS 'Site name, when known.';

COMMENT ON COLUMN site.country IS 'ISO 3166 country code, when known.';

CREATE TABLE load_batch (
	load_batch_id SERIAL NOT NULL, 
	source_path TEXT NOT NULL, 
	source_sha256 VARCHAR(64) NOT NULL, 
	source_format VARCHAR(32) NOT NULL, 
	files JSON, 
	study_id INTEGER, 
	loaded_by VARCHAR(255) NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	status VARCHAR(32) NOT NULL, 
	policy VARCHAR(32) NOT NULL, 
	rows_read INTEGER NOT NULL, 
	rows_loaded INTEGER NOT NULL, 
	rows_rejected INTEGER NOT NULL, 
	etl_version VARCHAR(32) NOT NULL, 
	message TEXT, 
	CONSTRAINT pk_load_batch PRIMARY KEY (load_batch_id), 
	CONSTRAINT ck_load_batch_status CHECK (status IN ('running', 'committed', 'partial', 'rejected', 'failed', 'unchanged')), 
	CONSTRAINT fk_load_batch_study_id_study FOREIGN KEY(study_id) REFERENCES study (study_id)
);

CREATE INDEX ix_load_batch_sha256 ON load_batch (source_sha256);

COMMENT ON TABLE load_batch IS 'Load manifest: what was loaded, by whom, when, with which result.';

COMMENT ON COLUMN load_batch.load_batch_id IS 'Surrogate key.';

COMMENT ON COLUMN load_batch.source_path IS 'File or folder as given to the loader.';

COMMENT ON COLUMN load_batch.source_sha256 IS 'SHA-256 of the file, or of the sorted list of file digests for a folder.';

COMMENT ON COLUMN load_batch.source_format IS 'sdtm, tidy, faers or mapping:<file>.';

COMMENT ON COLUMN load_batch.files IS 'Per-file name, size, SHA-256 and row count (JSON).';

COMMENT ON COLUMN load_batch.study_id IS 'Study loaded, when the source names one.';

COMMENT ON COLUMN load_batch.loaded_by IS 'User who ran the load.';

COMMENT ON COLUMN load_batch.started_at IS 'Start (UTC).';

COMMENT ON COLUMN load_batch.finished_at IS 'End (UTC).';

COMMENT ON COLUMN load_batch.status IS 'running, committed, partial, rejected, failed.';

COMMENT ON COLUMN load_batch.policy IS 'all_or_nothing or accept_partial.';

COMMENT ON COLUMN load_batch.rows_read IS 'Rows read from the source.';

COMMENT ON COLUMN load_batch.rows_loaded IS 'Rows written to the store.';

COMMENT ON COLUMN load_batch.rows_rejected IS 'Rows rejected (see load_rejection).';

COMMENT ON COLUMN load_batch.etl_version IS 'pv-monitor version that ran the load.';

COMMENT ON COLUMN load_batch.message IS 'Summary or error message.';

CREATE TABLE signal (
	signal_id SERIAL NOT NULL, 
	signal_key VARCHAR(64) NOT NULL, 
	product_id INTEGER, 
	event_term VARCHAR(255) NOT NULL, 
	meddra_version VARCHAR(32), 
	population VARCHAR(255), 
	source_type VARCHAR(32) NOT NULL, 
	analysis_run JSON, 
	analysis_run_id INTEGER, 
	method_family VARCHAR(32), 
	status VARCHAR(32) NOT NULL, 
	priority VARCHAR(32), 
	detected_on DATE NOT NULL, 
	closed_on DATE, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_signal PRIMARY KEY (signal_id), 
	CONSTRAINT uq_signal_signal_key UNIQUE (signal_key), 
	CONSTRAINT ck_signal_status CHECK (status IN ('new', 'under_validation', 'validated', 'refuted', 'under_assessment', 'closed')), 
	CONSTRAINT fk_signal_product_id_product FOREIGN KEY(product_id) REFERENCES product (product_id), 
	CONSTRAINT fk_signal_analysis_run_id_analysis_run FOREIGN KEY(analysis_run_id) REFERENCES analysis_run (analysis_run_id)
);

CREATE INDEX ix_signal_status ON signal (status);

COMMENT ON TABLE signal IS 'Signal tracking: a statistical hit stays ''potential'' until validated.';

COMMENT ON COLUMN signal.signal_id IS 'Surrogate key.';

COMMENT ON COLUMN signal.signal_key IS 'Human-facing signal identifier.';

COMMENT ON COLUMN signal.product_id IS 'Product, when one product is concerned.';

COMMENT ON COLUMN signal.event_term IS 'Event (MedDRA PT or grouping).';

COMMENT ON COLUMN signal.meddra_version IS 'MedDRA version of event_term.';

COMMENT ON COLUMN signal.population IS 'Population or subgroup, if any.';

COMMENT ON COLUMN signal.source_type IS 'statistical, clinical_review, literature, dsmb, regulator.';

COMMENT ON COLUMN signal.analysis_run IS 'Run id, method, parameters, thresholds, data cut, version, statistics (JSON).';

COMMENT ON COLUMN signal.analysis_run_id IS 'The analysis run that raised it (statistical sources).';

COMMENT ON COLUMN signal.method_family IS 'Method family of a statistical source (vocabulary.METHOD_FAMILIES).';

COMMENT ON COLUMN signal.status IS 'GVP IX status (vocabulary.SIGNAL_STATUSES).';

COMMENT ON COLUMN signal.priority IS 'Priority level.';

COMMENT ON COLUMN signal.detected_on IS 'Date detected.';

COMMENT ON COLUMN signal.closed_on IS 'Date closed.';

COMMENT ON COLUMN signal.created_at IS 'When the record was created (UTC).';

COMMENT ON COLUMN signal.updated_at IS 'Last change (UTC).';

CREATE TABLE subject (
	subject_id SERIAL NOT NULL, 
	study_id INTEGER NOT NULL, 
	site_id INTEGER, 
	subject_key VARCHAR(64) NOT NULL, 
	sex VARCHAR(32), 
	age_years DOUBLE PRECISION, 
	diagnosis VARCHAR(32), 
	weight_kg DOUBLE PRECISION, 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	CONSTRAINT pk_subject PRIMARY KEY (subject_id), 
	CONSTRAINT uq_subject_study_id_subject_key UNIQUE (study_id, subject_key), 
	CONSTRAINT ck_subject_age_years CHECK (age_years IS NULL OR (age_years >= 0 AND age_years < 130)), 
	CONSTRAINT fk_subject_study_id_study FOREIGN KEY(study_id) REFERENCES study (study_id), 
	CONSTRAINT fk_subject_site_id_site FOREIGN KEY(site_id) REFERENCES site (site_id), 
	CONSTRAINT fk_subject_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id)
);

CREATE INDEX ix_subject_load_batch_id ON subject (load_batch_id);

CREATE INDEX ix_subject_site_id ON subject (site_id);

COMMENT ON TABLE subject IS 'Pseudonymous subjects; no direct identifiers are ever stored.';

COMMENT ON COLUMN subject.subject_id IS 'Surrogate key.';

COMMENT ON COLUMN subject.study_id IS 'Study the subject is enrolled in.';

COMMENT ON COLUMN subject.site_id IS 'Treating site.';

COMMENT ON COLUMN subject.subject_key IS 'Pseudonymous subject key from the source (USUBJID); never a name or MRN.';

COMMENT ON COLUMN subject.sex IS 'F, M or U.';

COMMENT ON COLUMN subject.age_years IS 'Age in years at (first) infusion; picks ICE vs CAPD and paediatric thresholds.';

COMMENT ON COLUMN subject.diagnosis IS 'Diagnosis code (pv_monitor.vocabulary.DIAGNOSES), e.g. LBCL, B-ALL, MM.';

COMMENT ON COLUMN subject.weight_kg IS 'Weight at baseline, kg.';

COMMENT ON COLUMN subject.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN subject.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN subject.source_row IS '1-based data row number in the source file the row was last loaded from.';

CREATE TABLE load_rejection (
	load_rejection_id SERIAL NOT NULL, 
	load_batch_id INTEGER NOT NULL, 
	file_name VARCHAR(255) NOT NULL, 
	row_number INTEGER, 
	field VARCHAR(255), 
	value TEXT, 
	rule VARCHAR(32) NOT NULL, 
	reason TEXT NOT NULL, 
	CONSTRAINT pk_load_rejection PRIMARY KEY (load_rejection_id), 
	CONSTRAINT fk_load_rejection_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id)
);

CREATE INDEX ix_load_rejection_load_batch_id ON load_rejection (load_batch_id);

COMMENT ON TABLE load_rejection IS 'Row-level rejections of load batches.';

COMMENT ON COLUMN load_rejection.load_rejection_id IS 'Surrogate key.';

COMMENT ON COLUMN load_rejection.load_batch_id IS 'The batch.';

COMMENT ON COLUMN load_rejection.file_name IS 'File the row is in.';

COMMENT ON COLUMN load_rejection.row_number IS '1-based data row number in the file (header excluded); empty for file-level.';

COMMENT ON COLUMN load_rejection.field IS 'Column (field) at fault.';

COMMENT ON COLUMN load_rejection.value IS 'Offending value as written.';

COMMENT ON COLUMN load_rejection.rule IS 'Identifier of the rule that failed.';

COMMENT ON COLUMN load_rejection.reason IS 'Why, in words a data manager understands.';

CREATE TABLE app_user_site (
	app_user_id INTEGER NOT NULL, 
	site_id INTEGER NOT NULL, 
	CONSTRAINT pk_app_user_site PRIMARY KEY (app_user_id, site_id), 
	CONSTRAINT fk_app_user_site_app_user_id_app_user FOREIGN KEY(app_user_id) REFERENCES app_user (app_user_id), 
	CONSTRAINT fk_app_user_site_site_id_site FOREIGN KEY(site_id) REFERENCES site (site_id)
);

COMMENT ON TABLE app_user_site IS 'Site scope of users (clinicians see only their sites).';

COMMENT ON COLUMN app_user_site.app_user_id IS 'The user.';

COMMENT ON COLUMN app_user_site.site_id IS 'A site the user may see.';

CREATE TABLE signal_event (
	signal_event_id SERIAL NOT NULL, 
	signal_id INTEGER NOT NULL, 
	from_status VARCHAR(32), 
	to_status VARCHAR(32) NOT NULL, 
	actor VARCHAR(255) NOT NULL, 
	actor_role VARCHAR(32) NOT NULL, 
	occurred_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	rationale TEXT NOT NULL, 
	signed_name VARCHAR(255), 
	signature_meaning VARCHAR(255), 
	CONSTRAINT pk_signal_event PRIMARY KEY (signal_event_id), 
	CONSTRAINT fk_signal_event_signal_id_signal FOREIGN KEY(signal_id) REFERENCES signal (signal_id)
);

CREATE INDEX ix_signal_event_signal_id ON signal_event (signal_id);

COMMENT ON TABLE signal_event IS 'Append-only history of signal decisions.';

COMMENT ON COLUMN signal_event.signal_event_id IS 'Surrogate key.';

COMMENT ON COLUMN signal_event.signal_id IS 'The signal.';

COMMENT ON COLUMN signal_event.from_status IS 'Status before.';

COMMENT ON COLUMN signal_event.to_status IS 'Status after.';

COMMENT ON COLUMN signal_event.actor IS 'Who decided.';

COMMENT ON COLUMN signal_event.actor_role IS 'Role of who decided.';

COMMENT ON COLUMN signal_event.occurred_at IS 'When (UTC, server clock).';

COMMENT ON COLUMN signal_event.rationale IS 'Rationale (required at each decision).';

COMMENT ON COLUMN signal_event.signed_name IS 'Printed name of the signer, for decisions that need an electronic signature.';

COMMENT ON COLUMN signal_event.signature_meaning IS 'Meaning of the signature (21 CFR 11.50), e.g. ''closure approved''.';

CREATE OR REPLACE FUNCTION pv_monitor_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER signal_event_append_only BEFORE UPDATE OR DELETE ON signal_event FOR EACH ROW EXECUTE FUNCTION pv_monitor_refuse_change();

CREATE TRIGGER signal_event_no_truncate BEFORE TRUNCATE ON signal_event FOR EACH STATEMENT EXECUTE FUNCTION pv_monitor_refuse_change();

CREATE TABLE icsr_case (
	icsr_case_id BIGSERIAL NOT NULL, 
	source VARCHAR(32) NOT NULL, 
	report_key VARCHAR(64) NOT NULL, 
	case_key VARCHAR(64) NOT NULL, 
	case_version INTEGER, 
	is_latest BOOLEAN NOT NULL, 
	quarter VARCHAR(32), 
	initial_or_followup VARCHAR(32), 
	event_date DATE, 
	event_date_source_value VARCHAR(32), 
	fda_received_date DATE, 
	report_type VARCHAR(32), 
	age DOUBLE PRECISION, 
	age_unit VARCHAR(32), 
	sex VARCHAR(32), 
	weight DOUBLE PRECISION, 
	weight_unit VARCHAR(32), 
	reporter_country VARCHAR(32), 
	occurrence_country VARCHAR(32), 
	reporter_occupation VARCHAR(32), 
	outcomes VARCHAR(255), 
	report_sources VARCHAR(255), 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	CONSTRAINT pk_icsr_case PRIMARY KEY (icsr_case_id), 
	CONSTRAINT uq_icsr_case_source_report_key UNIQUE (source, report_key), 
	CONSTRAINT fk_icsr_case_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id)
);

CREATE INDEX ix_icsr_case_case_version ON icsr_case (source, case_key, case_version);

CREATE INDEX ix_icsr_case_load_batch_id ON icsr_case (load_batch_id);

COMMENT ON TABLE icsr_case IS 'Spontaneous report versions; is_latest marks the version analysed.';

COMMENT ON COLUMN icsr_case.icsr_case_id IS 'Surrogate key.';

COMMENT ON COLUMN icsr_case.source IS 'faers or aers (legacy layout).';

COMMENT ON COLUMN icsr_case.report_key IS 'primaryid (FAERS) or isr (legacy AERS).';

COMMENT ON COLUMN icsr_case.case_key IS 'caseid (FAERS) or case (legacy AERS).';

COMMENT ON COLUMN icsr_case.case_version IS 'caseversion (FAERS only).';

COMMENT ON COLUMN icsr_case.is_latest IS 'True for the latest version of the case loaded so far.';

COMMENT ON COLUMN icsr_case.quarter IS 'Quarterly file, e.g. 2017Q2.';

COMMENT ON COLUMN icsr_case.initial_or_followup IS 'I or F (i_f_code).';

COMMENT ON COLUMN icsr_case.event_date IS 'event_dt (imputed when partial).';

COMMENT ON COLUMN icsr_case.event_date_source_value IS 'event_dt as given.';

COMMENT ON COLUMN icsr_case.fda_received_date IS 'fda_dt / init_fda_dt.';

COMMENT ON COLUMN icsr_case.report_type IS 'rept_cod: EXP, PER, DIR, ...';

COMMENT ON COLUMN icsr_case.age IS 'Age as reported.';

COMMENT ON COLUMN icsr_case.age_unit IS 'age_cod: YR, MON, WK, DY, DEC, HR.';

COMMENT ON COLUMN icsr_case.sex IS 'F, M or UNK.';

COMMENT ON COLUMN icsr_case.weight IS 'Weight as reported.';

COMMENT ON COLUMN icsr_case.weight_unit IS 'KG or LBS.';

COMMENT ON COLUMN icsr_case.reporter_country IS 'Reporter country.';

COMMENT ON COLUMN icsr_case.occurrence_country IS 'Country of occurrence.';

COMMENT ON COLUMN icsr_case.reporter_occupation IS 'occp_cod: MD, PH, ...';

COMMENT ON COLUMN icsr_case.outcomes IS ''';''-separated OUTC codes: DE, LT, HO, DS, CA, RI, OT.';

COMMENT ON COLUMN icsr_case.report_sources IS ''';''-separated RPSR codes: FGN, SDY, LIT, CSM, HP, ...';

COMMENT ON COLUMN icsr_case.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN icsr_case.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN icsr_case.source_row IS '1-based data row number in the source file the row was last loaded from.';

CREATE TABLE measurement (
	measurement_id BIGSERIAL NOT NULL, 
	code VARCHAR(32) NOT NULL, 
	measured_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	has_time BOOLEAN NOT NULL, 
	value DOUBLE PRECISION, 
	unit VARCHAR(32), 
	operator VARCHAR(32), 
	value_source_value VARCHAR(255), 
	unit_source_value VARCHAR(32), 
	specimen VARCHAR(32), 
	other_cause BOOLEAN NOT NULL, 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	subject_id INTEGER NOT NULL, 
	date_flag VARCHAR(32), 
	CONSTRAINT pk_measurement PRIMARY KEY (measurement_id), 
	CONSTRAINT uq_measurement_subject_id_source_key UNIQUE (subject_id, source_key), 
	CONSTRAINT fk_measurement_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id), 
	CONSTRAINT fk_measurement_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_measurement_load_batch_id ON measurement (load_batch_id);

CREATE INDEX ix_measurement_subject_code_time ON measurement (subject_id, code, measured_at);

COMMENT ON TABLE measurement IS 'Numeric observations (vitals, labs, scores, markers) in canonical units.';

COMMENT ON COLUMN measurement.measurement_id IS 'Surrogate key.';

COMMENT ON COLUMN measurement.code IS 'Observation code, e.g. TEMP, CRP, ICE, ANC.';

COMMENT ON COLUMN measurement.measured_at IS 'When it was measured (midnight when the source gives only a date).';

COMMENT ON COLUMN measurement.has_time IS 'False when the source gave a date without a time of day.';

COMMENT ON COLUMN measurement.value IS 'Value in the canonical unit; empty when the result is censored or not done.';

COMMENT ON COLUMN measurement.unit IS 'Canonical unit of value.';

COMMENT ON COLUMN measurement.operator IS '''<'' or ''>'' for censored results such as ''<0.2''; empty otherwise.';

COMMENT ON COLUMN measurement.value_source_value IS 'Value as in the source.';

COMMENT ON COLUMN measurement.unit_source_value IS 'Unit as in the source.';

COMMENT ON COLUMN measurement.specimen IS 'Specimen when it matters, e.g. BONE MARROW for MRD.';

COMMENT ON COLUMN measurement.other_cause IS 'True when a clinician attributes the finding to a cause other than CAR-T.';

COMMENT ON COLUMN measurement.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN measurement.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN measurement.source_row IS '1-based data row number in the source file the row was last loaded from.';

COMMENT ON COLUMN measurement.subject_id IS 'The subject (pseudonymous) this row is about.';

COMMENT ON COLUMN measurement.date_flag IS 'before_day_0 or after_death when the date is implausible; empty otherwise.';

CREATE TABLE observation (
	observation_id BIGSERIAL NOT NULL, 
	code VARCHAR(32) NOT NULL, 
	observed_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	has_time BOOLEAN NOT NULL, 
	value VARCHAR(32) NOT NULL, 
	value_source_value VARCHAR(255), 
	other_cause BOOLEAN NOT NULL, 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	subject_id INTEGER NOT NULL, 
	date_flag VARCHAR(32), 
	CONSTRAINT pk_observation PRIMARY KEY (observation_id), 
	CONSTRAINT uq_observation_subject_id_source_key UNIQUE (subject_id, source_key), 
	CONSTRAINT fk_observation_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id), 
	CONSTRAINT fk_observation_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_observation_load_batch_id ON observation (load_batch_id);

CREATE INDEX ix_observation_subject_code_time ON observation (subject_id, code, observed_at);

COMMENT ON TABLE observation IS 'Categorical observations in controlled vocabulary.';

COMMENT ON COLUMN observation.observation_id IS 'Surrogate key.';

COMMENT ON COLUMN observation.code IS 'Observation code, e.g. O2_DEVICE, LOC, SEIZURE.';

COMMENT ON COLUMN observation.observed_at IS 'When it was observed (midnight when the source gives only a date).';

COMMENT ON COLUMN observation.has_time IS 'False when the source gave a date without a time of day.';

COMMENT ON COLUMN observation.value IS 'Controlled value, e.g. high_flow_nasal_cannula, awakens_to_voice, true.';

COMMENT ON COLUMN observation.value_source_value IS 'Value as in the source.';

COMMENT ON COLUMN observation.other_cause IS 'True when a clinician attributes the finding to a cause other than CAR-T.';

COMMENT ON COLUMN observation.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN observation.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN observation.source_row IS '1-based data row number in the source file the row was last loaded from.';

COMMENT ON COLUMN observation.subject_id IS 'The subject (pseudonymous) this row is about.';

COMMENT ON COLUMN observation.date_flag IS 'before_day_0 or after_death when the date is implausible; empty otherwise.';

CREATE TABLE drug_exposure (
	drug_exposure_id BIGSERIAL NOT NULL, 
	drug VARCHAR(32) NOT NULL, 
	drug_class VARCHAR(32), 
	drug_source_value VARCHAR(255), 
	started_at TIMESTAMP WITHOUT TIME ZONE, 
	ended_at TIMESTAMP WITHOUT TIME ZONE, 
	date_imputation VARCHAR(32), 
	dose DOUBLE PRECISION, 
	dose_unit VARCHAR(32), 
	route VARCHAR(32), 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	subject_id INTEGER NOT NULL, 
	date_flag VARCHAR(32), 
	CONSTRAINT pk_drug_exposure PRIMARY KEY (drug_exposure_id), 
	CONSTRAINT uq_drug_exposure_subject_id_source_key UNIQUE (subject_id, source_key), 
	CONSTRAINT ck_drug_exposure_end_after_start CHECK (ended_at IS NULL OR ended_at >= started_at), 
	CONSTRAINT fk_drug_exposure_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id), 
	CONSTRAINT fk_drug_exposure_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_drug_exposure_load_batch_id ON drug_exposure (load_batch_id);

CREATE INDEX ix_drug_exposure_subject_start ON drug_exposure (subject_id, started_at);

COMMENT ON TABLE drug_exposure IS 'Drug administrations with start and end.';

COMMENT ON COLUMN drug_exposure.drug_exposure_id IS 'Surrogate key.';

COMMENT ON COLUMN drug_exposure.drug IS 'Canonical generic name, lower case (pv_monitor.vocabulary.DRUG_CLASSES).';

COMMENT ON COLUMN drug_exposure.drug_class IS 'vasopressor, il6_blockade, corticosteroid, antipyretic, il1_blockade, ...';

COMMENT ON COLUMN drug_exposure.drug_source_value IS 'Drug name as in the source.';

COMMENT ON COLUMN drug_exposure.started_at IS 'Start (imputed when partial); empty when the source says only that it was given.';

COMMENT ON COLUMN drug_exposure.ended_at IS 'End; empty for a single administration or an unknown end.';

COMMENT ON COLUMN drug_exposure.date_imputation IS 'Empty when complete; otherwise which parts of start/end were imputed.';

COMMENT ON COLUMN drug_exposure.dose IS 'Dose per administration or rate.';

COMMENT ON COLUMN drug_exposure.dose_unit IS 'Unit of dose, e.g. mg, ug/min.';

COMMENT ON COLUMN drug_exposure.route IS 'Route, e.g. IV, PO, SC.';

COMMENT ON COLUMN drug_exposure.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN drug_exposure.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN drug_exposure.source_row IS '1-based data row number in the source file the row was last loaded from.';

COMMENT ON COLUMN drug_exposure.subject_id IS 'The subject (pseudonymous) this row is about.';

COMMENT ON COLUMN drug_exposure.date_flag IS 'before_day_0 or after_death when the date is implausible; empty otherwise.';

CREATE TABLE adverse_event (
	adverse_event_id SERIAL NOT NULL, 
	term VARCHAR(255) NOT NULL, 
	decoded_term VARCHAR(255), 
	syndrome VARCHAR(32), 
	onset_date DATE, 
	onset_date_source_value VARCHAR(32), 
	resolved_date DATE, 
	resolved_date_source_value VARCHAR(32), 
	date_imputation VARCHAR(32), 
	reported_grade INTEGER, 
	grading_scale VARCHAR(32), 
	serious BOOLEAN, 
	outcome VARCHAR(32), 
	verbatim TEXT, 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	subject_id INTEGER NOT NULL, 
	date_flag VARCHAR(32), 
	CONSTRAINT pk_adverse_event PRIMARY KEY (adverse_event_id), 
	CONSTRAINT uq_adverse_event_subject_id_source_key UNIQUE (subject_id, source_key), 
	CONSTRAINT ck_adverse_event_grade CHECK (reported_grade IS NULL OR reported_grade BETWEEN 0 AND 5), 
	CONSTRAINT fk_adverse_event_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id), 
	CONSTRAINT fk_adverse_event_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_adverse_event_load_batch_id ON adverse_event (load_batch_id);

CREATE INDEX ix_adverse_event_subject_onset ON adverse_event (subject_id, onset_date);

COMMENT ON TABLE adverse_event IS 'Adverse events as reported (term, grade and scale, dates, seriousness).';

COMMENT ON COLUMN adverse_event.adverse_event_id IS 'Surrogate key.';

COMMENT ON COLUMN adverse_event.term IS 'Reported term (verbatim).';

COMMENT ON COLUMN adverse_event.decoded_term IS 'Dictionary-derived term (MedDRA preferred term), when coded.';

COMMENT ON COLUMN adverse_event.syndrome IS 'crs, icans, iec_hs, ... when the term names one of the monitored syndromes.';

COMMENT ON COLUMN adverse_event.onset_date IS 'Onset (imputed when partial).';

COMMENT ON COLUMN adverse_event.onset_date_source_value IS 'Onset as written in the source (may be partial ISO 8601).';

COMMENT ON COLUMN adverse_event.resolved_date IS 'Resolution (imputed when partial).';

COMMENT ON COLUMN adverse_event.resolved_date_source_value IS 'Resolution as written in the source.';

COMMENT ON COLUMN adverse_event.date_imputation IS 'Empty when complete; otherwise which parts of onset/resolution were imputed.';

COMMENT ON COLUMN adverse_event.reported_grade IS 'Grade as reported (0-5).';

COMMENT ON COLUMN adverse_event.grading_scale IS 'Scale of reported_grade (pv_monitor.vocabulary.GradingScale).';

COMMENT ON COLUMN adverse_event.serious IS 'Reported as serious.';

COMMENT ON COLUMN adverse_event.outcome IS 'Outcome (vocabulary.AE_OUTCOMES).';

COMMENT ON COLUMN adverse_event.verbatim IS 'Free-text description, when the source has one.';

COMMENT ON COLUMN adverse_event.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN adverse_event.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN adverse_event.source_row IS '1-based data row number in the source file the row was last loaded from.';

COMMENT ON COLUMN adverse_event.subject_id IS 'The subject (pseudonymous) this row is about.';

COMMENT ON COLUMN adverse_event.date_flag IS 'before_day_0 or after_death when the date is implausible; empty otherwise.';

CREATE TABLE disease_assessment (
	disease_assessment_id SERIAL NOT NULL, 
	assessed_on DATE NOT NULL, 
	assessed_on_source_value VARCHAR(32), 
	date_imputation VARCHAR(32), 
	response VARCHAR(32), 
	is_relapse BOOLEAN NOT NULL, 
	mrd_fraction DOUBLE PRECISION, 
	mrd_method VARCHAR(32), 
	antigen_status VARCHAR(32), 
	value_source_value VARCHAR(255), 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	subject_id INTEGER NOT NULL, 
	date_flag VARCHAR(32), 
	CONSTRAINT pk_disease_assessment PRIMARY KEY (disease_assessment_id), 
	CONSTRAINT uq_disease_assessment_subject_id_source_key UNIQUE (subject_id, source_key), 
	CONSTRAINT ck_disease_assessment_mrd_fraction CHECK (mrd_fraction IS NULL OR (mrd_fraction >= 0 AND mrd_fraction <= 1)), 
	CONSTRAINT fk_disease_assessment_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id), 
	CONSTRAINT fk_disease_assessment_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_disease_assessment_load_batch_id ON disease_assessment (load_batch_id);

CREATE INDEX ix_disease_assessment_subject_date ON disease_assessment (subject_id, assessed_on);

COMMENT ON TABLE disease_assessment IS 'Responses, MRD, relapses and relapse antigen phenotype.';

COMMENT ON COLUMN disease_assessment.disease_assessment_id IS 'Surrogate key.';

COMMENT ON COLUMN disease_assessment.assessed_on IS 'Date of the assessment or sample (imputed when partial).';

COMMENT ON COLUMN disease_assessment.assessed_on_source_value IS 'Assessment date as written in the source (may be partial ISO 8601).';

COMMENT ON COLUMN disease_assessment.date_imputation IS 'Empty when complete; day or month when that part was imputed.';

COMMENT ON COLUMN disease_assessment.response IS 'CR, CRi, PR, SD, PD or relapse (vocabulary.RESPONSES).';

COMMENT ON COLUMN disease_assessment.is_relapse IS 'True when this assessment documents relapse or progression.';

COMMENT ON COLUMN disease_assessment.mrd_fraction IS 'Minimal residual disease as a fraction (0-1); 0 means not detected.';

COMMENT ON COLUMN disease_assessment.mrd_method IS 'MRD method, e.g. NGS or flow.';

COMMENT ON COLUMN disease_assessment.antigen_status IS 'Target antigen on relapse blasts: positive, dim, negative, lineage_switch.';

COMMENT ON COLUMN disease_assessment.value_source_value IS 'Result as in the source.';

COMMENT ON COLUMN disease_assessment.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN disease_assessment.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN disease_assessment.source_row IS '1-based data row number in the source file the row was last loaded from.';

COMMENT ON COLUMN disease_assessment.subject_id IS 'The subject (pseudonymous) this row is about.';

COMMENT ON COLUMN disease_assessment.date_flag IS 'before_day_0 or after_death when the date is implausible; empty otherwise.';

CREATE TABLE infusion (
	infusion_id SERIAL NOT NULL, 
	product_id INTEGER NOT NULL, 
	infusion_number INTEGER NOT NULL, 
	infusion_date DATE NOT NULL, 
	infusion_datetime TIMESTAMP WITHOUT TIME ZONE, 
	dose_cells DOUBLE PRECISION, 
	lymphodepletion VARCHAR(255), 
	day_zero_anchored BOOLEAN DEFAULT false NOT NULL, 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_infusion PRIMARY KEY (infusion_id), 
	CONSTRAINT uq_infusion_subject_id_infusion_number UNIQUE (subject_id, infusion_number), 
	CONSTRAINT fk_infusion_product_id_product FOREIGN KEY(product_id) REFERENCES product (product_id), 
	CONSTRAINT fk_infusion_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id), 
	CONSTRAINT fk_infusion_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_infusion_load_batch_id ON infusion (load_batch_id);

CREATE INDEX ix_infusion_product_id ON infusion (product_id);

CREATE INDEX ix_infusion_subject_date ON infusion (subject_id, infusion_date);

COMMENT ON TABLE infusion IS 'CAR-T infusions; infusion_date is day 0.';

COMMENT ON COLUMN infusion.infusion_id IS 'Surrogate key.';

COMMENT ON COLUMN infusion.product_id IS 'Product infused.';

COMMENT ON COLUMN infusion.infusion_number IS '1 for the first infusion of the subject, 2 for a re-infusion, ...';

COMMENT ON COLUMN infusion.infusion_date IS 'Day 0.';

COMMENT ON COLUMN infusion.infusion_datetime IS 'Infusion start date-time, when recorded.';

COMMENT ON COLUMN infusion.dose_cells IS 'CAR-positive viable cells infused.';

COMMENT ON COLUMN infusion.lymphodepletion IS 'Lymphodepleting regimen, e.g. fludarabine/cyclophosphamide.';

COMMENT ON COLUMN infusion.day_zero_anchored IS 'True when the source gives only days after infusion: infusion_date is then an anchor (2000-01-01), not a calendar date, and only study days are meaningful.';

COMMENT ON COLUMN infusion.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN infusion.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN infusion.source_row IS '1-based data row number in the source file the row was last loaded from.';

COMMENT ON COLUMN infusion.subject_id IS 'The subject (pseudonymous) this row is about.';

CREATE TABLE death (
	death_id SERIAL NOT NULL, 
	death_date DATE, 
	death_date_source_value VARCHAR(32), 
	death_date_imputation VARCHAR(32), 
	cause TEXT, 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_death PRIMARY KEY (death_id), 
	CONSTRAINT uq_death_subject_id UNIQUE (subject_id), 
	CONSTRAINT fk_death_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id), 
	CONSTRAINT fk_death_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_death_load_batch_id ON death (load_batch_id);

COMMENT ON TABLE death IS 'Deaths (one per subject).';

COMMENT ON COLUMN death.death_id IS 'Surrogate key.';

COMMENT ON COLUMN death.death_date IS 'Date of death (imputed when the source gives a partial date).';

COMMENT ON COLUMN death.death_date_source_value IS 'Date of death as written in the source (may be partial ISO 8601).';

COMMENT ON COLUMN death.death_date_imputation IS 'Empty when complete; ''day'' or ''month'' when that part was imputed.';

COMMENT ON COLUMN death.cause IS 'Cause of death as reported.';

COMMENT ON COLUMN death.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN death.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN death.source_row IS '1-based data row number in the source file the row was last loaded from.';

COMMENT ON COLUMN death.subject_id IS 'The subject (pseudonymous) this row is about.';

CREATE TABLE follow_up (
	follow_up_id SERIAL NOT NULL, 
	last_contact_date DATE, 
	disposition VARCHAR(255), 
	disposition_date DATE, 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_follow_up PRIMARY KEY (follow_up_id), 
	CONSTRAINT uq_follow_up_subject_id UNIQUE (subject_id), 
	CONSTRAINT fk_follow_up_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id), 
	CONSTRAINT fk_follow_up_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_follow_up_load_batch_id ON follow_up (load_batch_id);

COMMENT ON TABLE follow_up IS 'Last contact and disposition per subject.';

COMMENT ON COLUMN follow_up.follow_up_id IS 'Surrogate key.';

COMMENT ON COLUMN follow_up.last_contact_date IS 'Last date known alive.';

COMMENT ON COLUMN follow_up.disposition IS 'Disposition, e.g. ongoing, completed, lost to follow-up, withdrew.';

COMMENT ON COLUMN follow_up.disposition_date IS 'Date of the disposition.';

COMMENT ON COLUMN follow_up.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN follow_up.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN follow_up.source_row IS '1-based data row number in the source file the row was last loaded from.';

COMMENT ON COLUMN follow_up.subject_id IS 'The subject (pseudonymous) this row is about.';

CREATE TABLE icsr_drug (
	icsr_drug_id BIGSERIAL NOT NULL, 
	icsr_case_id BIGINT NOT NULL, 
	drug_seq INTEGER NOT NULL, 
	role VARCHAR(32), 
	drug_name VARCHAR(255) NOT NULL, 
	active_ingredient VARCHAR(255), 
	product_id INTEGER, 
	route VARCHAR(255), 
	dose_amount DOUBLE PRECISION, 
	dose_unit VARCHAR(32), 
	start_date DATE, 
	end_date DATE, 
	indication VARCHAR(255), 
	dechallenge VARCHAR(32), 
	rechallenge VARCHAR(32), 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	CONSTRAINT pk_icsr_drug PRIMARY KEY (icsr_drug_id), 
	CONSTRAINT uq_icsr_drug_icsr_case_id_drug_seq UNIQUE (icsr_case_id, drug_seq), 
	CONSTRAINT fk_icsr_drug_icsr_case_id_icsr_case FOREIGN KEY(icsr_case_id) REFERENCES icsr_case (icsr_case_id), 
	CONSTRAINT fk_icsr_drug_product_id_product FOREIGN KEY(product_id) REFERENCES product (product_id), 
	CONSTRAINT fk_icsr_drug_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id)
);

CREATE INDEX ix_icsr_drug_load_batch_id ON icsr_drug (load_batch_id);

CREATE INDEX ix_icsr_drug_product_id ON icsr_drug (product_id);

COMMENT ON TABLE icsr_drug IS 'Drugs of spontaneous reports, with normalised CAR-T product.';

COMMENT ON COLUMN icsr_drug.icsr_drug_id IS 'Surrogate key.';

COMMENT ON COLUMN icsr_drug.icsr_case_id IS 'The report version.';

COMMENT ON COLUMN icsr_drug.drug_seq IS 'drug_seq within the report.';

COMMENT ON COLUMN icsr_drug.role IS 'role_cod: PS, SS, C or I.';

COMMENT ON COLUMN icsr_drug.drug_name IS 'drugname as reported (verbatim).';

COMMENT ON COLUMN icsr_drug.active_ingredient IS 'prod_ai.';

COMMENT ON COLUMN icsr_drug.product_id IS 'Normalised CAR-T product (brand and generic names map to one), when matched.';

COMMENT ON COLUMN icsr_drug.route IS 'Route as reported.';

COMMENT ON COLUMN icsr_drug.dose_amount IS 'dose_amt.';

COMMENT ON COLUMN icsr_drug.dose_unit IS 'dose_unit.';

COMMENT ON COLUMN icsr_drug.start_date IS 'THER start_dt (imputed if partial).';

COMMENT ON COLUMN icsr_drug.end_date IS 'THER end_dt (imputed if partial).';

COMMENT ON COLUMN icsr_drug.indication IS 'INDI indi_pt.';

COMMENT ON COLUMN icsr_drug.dechallenge IS 'dechal: Y, N, U or D.';

COMMENT ON COLUMN icsr_drug.rechallenge IS 'rechal: Y, N, U or D.';

COMMENT ON COLUMN icsr_drug.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN icsr_drug.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN icsr_drug.source_row IS '1-based data row number in the source file the row was last loaded from.';

CREATE TABLE icsr_reaction (
	icsr_reaction_id BIGSERIAL NOT NULL, 
	icsr_case_id BIGINT NOT NULL, 
	preferred_term VARCHAR(255) NOT NULL, 
	drug_recurrence_action VARCHAR(32), 
	load_batch_id INTEGER NOT NULL, 
	source_key VARCHAR(255) NOT NULL, 
	source_row INTEGER, 
	CONSTRAINT pk_icsr_reaction PRIMARY KEY (icsr_reaction_id), 
	CONSTRAINT uq_icsr_reaction_icsr_case_id_preferred_term UNIQUE (icsr_case_id, preferred_term), 
	CONSTRAINT fk_icsr_reaction_icsr_case_id_icsr_case FOREIGN KEY(icsr_case_id) REFERENCES icsr_case (icsr_case_id), 
	CONSTRAINT fk_icsr_reaction_load_batch_id_load_batch FOREIGN KEY(load_batch_id) REFERENCES load_batch (load_batch_id)
);

CREATE INDEX ix_icsr_reaction_load_batch_id ON icsr_reaction (load_batch_id);

CREATE INDEX ix_icsr_reaction_term ON icsr_reaction (preferred_term);

COMMENT ON TABLE icsr_reaction IS 'Reactions (MedDRA PT) of spontaneous reports.';

COMMENT ON COLUMN icsr_reaction.icsr_reaction_id IS 'Surrogate key.';

COMMENT ON COLUMN icsr_reaction.icsr_case_id IS 'The report version.';

COMMENT ON COLUMN icsr_reaction.preferred_term IS 'MedDRA preferred term (pt).';

COMMENT ON COLUMN icsr_reaction.drug_recurrence_action IS 'drug_rec_act.';

COMMENT ON COLUMN icsr_reaction.load_batch_id IS 'Load batch that last wrote this row.';

COMMENT ON COLUMN icsr_reaction.source_key IS 'Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).';

COMMENT ON COLUMN icsr_reaction.source_row IS '1-based data row number in the source file the row was last loaded from.';

CREATE TABLE daily_assessment (
	daily_assessment_id BIGSERIAL NOT NULL, 
	study_day INTEGER NOT NULL, 
	granularity VARCHAR(32) NOT NULL, 
	assessed_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	age_years DOUBLE PRECISION, 
	temp_c_max DOUBLE PRECISION, 
	crs_treated BOOLEAN, 
	hypotension BOOLEAN, 
	vasopressors VARCHAR(255), 
	o2_device VARCHAR(32), 
	o2_flow_l_min DOUBLE PRECISION, 
	ice_score DOUBLE PRECISION, 
	capd_score DOUBLE PRECISION, 
	loc VARCHAR(32), 
	seizure VARCHAR(32), 
	motor_weakness BOOLEAN, 
	cerebral_edema VARCHAR(32), 
	icp_signs BOOLEAN, 
	sedated BOOLEAN, 
	computed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	infusion_id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_daily_assessment PRIMARY KEY (daily_assessment_id), 
	CONSTRAINT uq_daily_assessment_infusion_id_granularity_assessed_at UNIQUE (infusion_id, granularity, assessed_at), 
	CONSTRAINT ck_daily_assessment_granularity CHECK (granularity IN ('day', 'time_point')), 
	CONSTRAINT fk_daily_assessment_infusion_id_infusion FOREIGN KEY(infusion_id) REFERENCES infusion (infusion_id), 
	CONSTRAINT fk_daily_assessment_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_daily_assessment_subject_day ON daily_assessment (subject_id, study_day);

COMMENT ON TABLE daily_assessment IS 'Assessment frame (contract 2): one row per subject per day or time point.';

COMMENT ON COLUMN daily_assessment.daily_assessment_id IS 'Surrogate key.';

COMMENT ON COLUMN daily_assessment.study_day IS 'Days since infusion (day 0 = infusion).';

COMMENT ON COLUMN daily_assessment.granularity IS 'day or time_point.';

COMMENT ON COLUMN daily_assessment.assessed_at IS 'Midnight of the day for day rows; the time point otherwise.';

COMMENT ON COLUMN daily_assessment.age_years IS 'Age; ICE >= 12 y, CAPD below.';

COMMENT ON COLUMN daily_assessment.temp_c_max IS 'Highest temperature, Celsius.';

COMMENT ON COLUMN daily_assessment.crs_treated IS 'Antipyretic, tocilizumab or corticosteroid already given in this CRS episode.';

COMMENT ON COLUMN daily_assessment.hypotension IS 'Hypotension present.';

COMMENT ON COLUMN daily_assessment.vasopressors IS ''';''-separated vasopressor agents running; empty if none.';

COMMENT ON COLUMN daily_assessment.o2_device IS 'Highest oxygen support.';

COMMENT ON COLUMN daily_assessment.o2_flow_l_min IS 'Oxygen flow, L/min.';

COMMENT ON COLUMN daily_assessment.ice_score IS 'Worst ICE score (0-10).';

COMMENT ON COLUMN daily_assessment.capd_score IS 'Worst CAPD score (0-32).';

COMMENT ON COLUMN daily_assessment.loc IS 'Worst level of consciousness.';

COMMENT ON COLUMN daily_assessment.seizure IS 'Worst seizure finding.';

COMMENT ON COLUMN daily_assessment.motor_weakness IS 'Deep focal motor weakness.';

COMMENT ON COLUMN daily_assessment.cerebral_edema IS 'none, focal or diffuse.';

COMMENT ON COLUMN daily_assessment.icp_signs IS 'Signs of raised ICP.';

COMMENT ON COLUMN daily_assessment.sedated IS 'Under sedating drugs.';

COMMENT ON COLUMN daily_assessment.computed_at IS 'When the pipeline wrote the row.';

COMMENT ON COLUMN daily_assessment.infusion_id IS 'Infusion whose day 0 the row counts from.';

COMMENT ON COLUMN daily_assessment.subject_id IS 'The subject (pseudonymous) this row is about.';

CREATE TABLE toxicity_episode (
	toxicity_episode_id SERIAL NOT NULL, 
	syndrome VARCHAR(32) NOT NULL, 
	criteria_version VARCHAR(255) NOT NULL, 
	episode_number INTEGER NOT NULL, 
	onset_day INTEGER NOT NULL, 
	peak_grade INTEGER NOT NULL, 
	peak_day INTEGER NOT NULL, 
	resolution_day INTEGER, 
	duration_days INTEGER, 
	treatments VARCHAR(255), 
	closure_rule VARCHAR(32) NOT NULL, 
	computed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	infusion_id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_toxicity_episode PRIMARY KEY (toxicity_episode_id), 
	CONSTRAINT uq_toxicity_episode_infusion_id_syndrome_criteria_versi_65d8 UNIQUE (infusion_id, syndrome, criteria_version, episode_number), 
	CONSTRAINT ck_toxicity_episode_syndrome CHECK (syndrome IN ('crs', 'icans', 'iec_hs', 'icaht', 'relapse', 'other')), 
	CONSTRAINT ck_toxicity_episode_peak_grade CHECK (peak_grade BETWEEN 0 AND 5), 
	CONSTRAINT fk_toxicity_episode_infusion_id_infusion FOREIGN KEY(infusion_id) REFERENCES infusion (infusion_id), 
	CONSTRAINT fk_toxicity_episode_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_toxicity_episode_subject_syndrome ON toxicity_episode (subject_id, syndrome);

COMMENT ON TABLE toxicity_episode IS 'CRS and ICANS episodes derived from graded days.';

COMMENT ON COLUMN toxicity_episode.toxicity_episode_id IS 'Surrogate key.';

COMMENT ON COLUMN toxicity_episode.syndrome IS 'crs, icans, ...';

COMMENT ON COLUMN toxicity_episode.criteria_version IS 'Criteria table used.';

COMMENT ON COLUMN toxicity_episode.episode_number IS '1 for the first episode, 2, ...';

COMMENT ON COLUMN toxicity_episode.onset_day IS 'Study day of onset.';

COMMENT ON COLUMN toxicity_episode.peak_grade IS 'Highest grade in the episode.';

COMMENT ON COLUMN toxicity_episode.peak_day IS 'Study day the peak grade was first reached.';

COMMENT ON COLUMN toxicity_episode.resolution_day IS 'Study day of resolution; empty while ongoing.';

COMMENT ON COLUMN toxicity_episode.duration_days IS 'Days from onset to resolution.';

COMMENT ON COLUMN toxicity_episode.treatments IS ''';''-separated treatments given during the episode.';

COMMENT ON COLUMN toxicity_episode.closure_rule IS 'Rule that closed the episode, e.g. grade0_2_days.';

COMMENT ON COLUMN toxicity_episode.computed_at IS 'When the pipeline wrote the row.';

COMMENT ON COLUMN toxicity_episode.infusion_id IS 'Infusion whose day 0 the row counts from.';

COMMENT ON COLUMN toxicity_episode.subject_id IS 'The subject (pseudonymous) this row is about.';

CREATE TABLE risk_score (
	risk_score_id SERIAL NOT NULL, 
	score VARCHAR(32) NOT NULL, 
	score_version VARCHAR(32) NOT NULL, 
	timepoint VARCHAR(32) NOT NULL, 
	study_day INTEGER, 
	value DOUBLE PRECISION, 
	category VARCHAR(32), 
	inputs JSON, 
	reason TEXT, 
	computed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	infusion_id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_risk_score PRIMARY KEY (risk_score_id), 
	CONSTRAINT uq_risk_score_infusion_id_score_score_version_timepoint UNIQUE (infusion_id, score, score_version, timepoint), 
	CONSTRAINT fk_risk_score_infusion_id_infusion FOREIGN KEY(infusion_id) REFERENCES infusion (infusion_id), 
	CONSTRAINT fk_risk_score_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_risk_score_subject_score ON risk_score (subject_id, score);

COMMENT ON TABLE risk_score IS 'Risk scores with their inputs; missing inputs leave the value empty.';

COMMENT ON COLUMN risk_score.risk_score_id IS 'Surrogate key.';

COMMENT ON COLUMN risk_score.score IS 'easix, m_easix, car_hematotox, ...';

COMMENT ON COLUMN risk_score.score_version IS 'Version of the score definition.';

COMMENT ON COLUMN risk_score.timepoint IS 'When it applies, e.g. pre_lymphodepletion, day_0, day_3.';

COMMENT ON COLUMN risk_score.study_day IS 'Study day of the inputs used.';

COMMENT ON COLUMN risk_score.value IS 'Score value; empty when not computable.';

COMMENT ON COLUMN risk_score.category IS 'Risk group, e.g. high or low.';

COMMENT ON COLUMN risk_score.inputs IS 'Input values, units and days used (JSON).';

COMMENT ON COLUMN risk_score.reason IS 'Why the score is what it is, or which input is missing.';

COMMENT ON COLUMN risk_score.computed_at IS 'When the pipeline wrote the row.';

COMMENT ON COLUMN risk_score.infusion_id IS 'Infusion whose day 0 the row counts from.';

COMMENT ON COLUMN risk_score.subject_id IS 'The subject (pseudonymous) this row is about.';

CREATE TABLE alert (
	alert_id SERIAL NOT NULL, 
	infusion_id INTEGER, 
	rule_id VARCHAR(32) NOT NULL, 
	rule_version VARCHAR(32) NOT NULL, 
	severity VARCHAR(32) NOT NULL, 
	syndrome VARCHAR(32) NOT NULL, 
	episode_key VARCHAR(64), 
	status VARCHAR(32) NOT NULL, 
	title VARCHAR(255) NOT NULL, 
	study_day INTEGER, 
	evidence JSON NOT NULL, 
	evidence_sha256 VARCHAR(64) NOT NULL, 
	assigned_to_id INTEGER, 
	raised_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_alert PRIMARY KEY (alert_id), 
	CONSTRAINT ck_alert_status CHECK (status IN ('open', 'acknowledged', 'resolved', 'dismissed')), 
	CONSTRAINT ck_alert_syndrome CHECK (syndrome IN ('crs', 'icans', 'iec_hs', 'icaht', 'relapse', 'other')), 
	CONSTRAINT fk_alert_infusion_id_infusion FOREIGN KEY(infusion_id) REFERENCES infusion (infusion_id), 
	CONSTRAINT fk_alert_assigned_to_id_app_user FOREIGN KEY(assigned_to_id) REFERENCES app_user (app_user_id), 
	CONSTRAINT fk_alert_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_alert_status_severity ON alert (status, severity);

CREATE INDEX ix_alert_subject_raised ON alert (subject_id, raised_at);

COMMENT ON TABLE alert IS 'Alerts with their evidence and workflow status.';

COMMENT ON COLUMN alert.alert_id IS 'Surrogate key.';

COMMENT ON COLUMN alert.infusion_id IS 'Infusion the alert is about, when any.';

COMMENT ON COLUMN alert.rule_id IS 'Rule that raised it.';

COMMENT ON COLUMN alert.rule_version IS 'Version of the rule.';

COMMENT ON COLUMN alert.severity IS 'Severity declared by the rule.';

COMMENT ON COLUMN alert.syndrome IS 'crs, icans, relapse, ...';

COMMENT ON COLUMN alert.episode_key IS 'Episode the alert belongs to (deduplication key), when any.';

COMMENT ON COLUMN alert.status IS 'open, acknowledged, resolved or dismissed.';

COMMENT ON COLUMN alert.title IS 'One-line summary shown in the queue.';

COMMENT ON COLUMN alert.study_day IS 'Study day of the triggering evidence.';

COMMENT ON COLUMN alert.evidence IS 'Values, days and source rows that made the rule fire (JSON).';

COMMENT ON COLUMN alert.evidence_sha256 IS 'Digest of the evidence, so resolved alerts are never re-raised for it.';

COMMENT ON COLUMN alert.assigned_to_id IS 'User the alert is assigned to.';

COMMENT ON COLUMN alert.raised_at IS 'When the alert was first raised.';

COMMENT ON COLUMN alert.updated_at IS 'Last change of status or evidence.';

COMMENT ON COLUMN alert.subject_id IS 'The subject (pseudonymous) this row is about.';

CREATE TABLE toxicity_grade (
	toxicity_grade_id BIGSERIAL NOT NULL, 
	daily_assessment_id BIGINT NOT NULL, 
	study_day INTEGER NOT NULL, 
	syndrome VARCHAR(32) NOT NULL, 
	criteria_version VARCHAR(255) NOT NULL, 
	grade INTEGER, 
	reason TEXT, 
	provisional BOOLEAN NOT NULL, 
	computed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	infusion_id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_toxicity_grade PRIMARY KEY (toxicity_grade_id), 
	CONSTRAINT uq_toxicity_grade_daily_assessment_id_syndrome_criteria_version UNIQUE (daily_assessment_id, syndrome, criteria_version), 
	CONSTRAINT ck_toxicity_grade_grade CHECK (grade IS NULL OR grade BETWEEN 0 AND 5), 
	CONSTRAINT ck_toxicity_grade_syndrome CHECK (syndrome IN ('crs', 'icans', 'iec_hs', 'icaht', 'relapse', 'other')), 
	CONSTRAINT fk_toxicity_grade_daily_assessment_id_daily_assessment FOREIGN KEY(daily_assessment_id) REFERENCES daily_assessment (daily_assessment_id), 
	CONSTRAINT fk_toxicity_grade_infusion_id_infusion FOREIGN KEY(infusion_id) REFERENCES infusion (infusion_id), 
	CONSTRAINT fk_toxicity_grade_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_toxicity_grade_subject_syndrome_day ON toxicity_grade (subject_id, syndrome, study_day);

COMMENT ON TABLE toxicity_grade IS 'Derived grades per assessment row, syndrome and criteria version.';

COMMENT ON COLUMN toxicity_grade.toxicity_grade_id IS 'Surrogate key.';

COMMENT ON COLUMN toxicity_grade.daily_assessment_id IS 'Assessment row graded.';

COMMENT ON COLUMN toxicity_grade.study_day IS 'Days since infusion.';

COMMENT ON COLUMN toxicity_grade.syndrome IS 'crs, icans, ...';

COMMENT ON COLUMN toxicity_grade.criteria_version IS 'Criteria table used, e.g. astct_2019_crs or ctcae_v5_0_labs:anemia.';

COMMENT ON COLUMN toxicity_grade.grade IS '0-5; empty when nothing gradable was observed (never 0 for missing data).';

COMMENT ON COLUMN toxicity_grade.reason IS 'Which domain set the grade, in words a clinician reads.';

COMMENT ON COLUMN toxicity_grade.provisional IS 'True when sedation or missing domains make the grade a lower bound.';

COMMENT ON COLUMN toxicity_grade.computed_at IS 'When the pipeline wrote the row.';

COMMENT ON COLUMN toxicity_grade.infusion_id IS 'Infusion whose day 0 the row counts from.';

COMMENT ON COLUMN toxicity_grade.subject_id IS 'The subject (pseudonymous) this row is about.';

CREATE TABLE alert_event (
	alert_event_id SERIAL NOT NULL, 
	alert_id INTEGER NOT NULL, 
	event_type VARCHAR(32) NOT NULL, 
	from_status VARCHAR(32), 
	to_status VARCHAR(32), 
	actor VARCHAR(255) NOT NULL, 
	occurred_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	comment_text TEXT, 
	details JSON, 
	CONSTRAINT pk_alert_event PRIMARY KEY (alert_event_id), 
	CONSTRAINT fk_alert_event_alert_id_alert FOREIGN KEY(alert_id) REFERENCES alert (alert_id)
);

CREATE INDEX ix_alert_event_alert_id ON alert_event (alert_id);

COMMENT ON TABLE alert_event IS 'Append-only history of every alert change.';

COMMENT ON COLUMN alert_event.alert_event_id IS 'Surrogate key.';

COMMENT ON COLUMN alert_event.alert_id IS 'The alert.';

COMMENT ON COLUMN alert_event.event_type IS 'raised, escalated, acknowledged, assigned, resolved, dismissed, commented.';

COMMENT ON COLUMN alert_event.from_status IS 'Status before.';

COMMENT ON COLUMN alert_event.to_status IS 'Status after.';

COMMENT ON COLUMN alert_event.actor IS 'User name, or ''pipeline'' for the engine.';

COMMENT ON COLUMN alert_event.occurred_at IS 'When (UTC, server clock).';

COMMENT ON COLUMN alert_event.comment_text IS 'Comment given by the user.';

COMMENT ON COLUMN alert_event.details IS 'What changed (JSON).';

CREATE OR REPLACE FUNCTION pv_monitor_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER alert_event_append_only BEFORE UPDATE OR DELETE ON alert_event FOR EACH ROW EXECUTE FUNCTION pv_monitor_refuse_change();

CREATE TRIGGER alert_event_no_truncate BEFORE TRUNCATE ON alert_event FOR EACH STATEMENT EXECUTE FUNCTION pv_monitor_refuse_change();
