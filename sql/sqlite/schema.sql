-- Generated from pv_monitor.store.models by `pv-monitor db ddl --write sql`; do not edit.
-- The schema changes only through Alembic migrations (pv-monitor db upgrade).

CREATE TABLE study (
	study_id INTEGER NOT NULL, 
	study_key VARCHAR(64) NOT NULL, 
	title VARCHAR(255), 
	CONSTRAINT pk_study PRIMARY KEY (study_id), 
	CONSTRAINT uq_study_study_key UNIQUE (study_key)
);

CREATE TABLE product (
	product_id INTEGER NOT NULL, 
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

CREATE TABLE pipeline_run (
	pipeline_run_id INTEGER NOT NULL, 
	run_by VARCHAR(255) NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
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

CREATE TABLE audit_log (
	audit_log_id INTEGER NOT NULL, 
	occurred_at DATETIME NOT NULL, 
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

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is not allowed'); END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is not allowed'); END;

CREATE TABLE app_user (
	app_user_id INTEGER NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	display_name VARCHAR(255), 
	role VARCHAR(32) NOT NULL, 
	password_hash TEXT NOT NULL, 
	is_active BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_app_user PRIMARY KEY (app_user_id), 
	CONSTRAINT ck_app_user_role CHECK (role IN ('clinician', 'safety_officer', 'data_manager', 'admin')), 
	CONSTRAINT uq_app_user_username UNIQUE (username)
);

CREATE TABLE analysis_run (
	analysis_run_id INTEGER NOT NULL, 
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
	started_at DATETIME NOT NULL, 
	hits INTEGER NOT NULL, 
	CONSTRAINT pk_analysis_run PRIMARY KEY (analysis_run_id), 
	CONSTRAINT uq_analysis_run_run_key UNIQUE (run_key), 
	CONSTRAINT ck_analysis_run_method_family CHECK (method_family IN ('disproportionality', 'rate_vs_reference', 'sequential', 'bayesian', 'rule_based_clinical'))
);

CREATE TABLE site (
	site_id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	site_key VARCHAR(64) NOT NULL, 
	name VARCHAR(255), 
	country VARCHAR(32), 
	CONSTRAINT pk_site PRIMARY KEY (site_id), 
	CONSTRAINT uq_site_study_id_site_key UNIQUE (study_id, site_key), 
	CONSTRAINT fk_site_study_id_study FOREIGN KEY(study_id) REFERENCES study (study_id)
);

CREATE TABLE load_batch (
	load_batch_id INTEGER NOT NULL, 
	source_path TEXT NOT NULL, 
	source_sha256 VARCHAR(64) NOT NULL, 
	source_format VARCHAR(32) NOT NULL, 
	files JSON, 
	study_id INTEGER, 
	loaded_by VARCHAR(255) NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
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

CREATE TABLE signal (
	signal_id INTEGER NOT NULL, 
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
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_signal PRIMARY KEY (signal_id), 
	CONSTRAINT uq_signal_signal_key UNIQUE (signal_key), 
	CONSTRAINT ck_signal_status CHECK (status IN ('new', 'under_validation', 'validated', 'refuted', 'under_assessment', 'closed')), 
	CONSTRAINT fk_signal_product_id_product FOREIGN KEY(product_id) REFERENCES product (product_id), 
	CONSTRAINT fk_signal_analysis_run_id_analysis_run FOREIGN KEY(analysis_run_id) REFERENCES analysis_run (analysis_run_id)
);

CREATE INDEX ix_signal_status ON signal (status);

CREATE TABLE subject (
	subject_id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	site_id INTEGER, 
	subject_key VARCHAR(64) NOT NULL, 
	sex VARCHAR(32), 
	age_years DOUBLE, 
	diagnosis VARCHAR(32), 
	weight_kg DOUBLE, 
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

CREATE TABLE load_rejection (
	load_rejection_id INTEGER NOT NULL, 
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

CREATE TABLE app_user_site (
	app_user_id INTEGER NOT NULL, 
	site_id INTEGER NOT NULL, 
	CONSTRAINT pk_app_user_site PRIMARY KEY (app_user_id, site_id), 
	CONSTRAINT fk_app_user_site_app_user_id_app_user FOREIGN KEY(app_user_id) REFERENCES app_user (app_user_id), 
	CONSTRAINT fk_app_user_site_site_id_site FOREIGN KEY(site_id) REFERENCES site (site_id)
);

CREATE TABLE signal_event (
	signal_event_id INTEGER NOT NULL, 
	signal_id INTEGER NOT NULL, 
	from_status VARCHAR(32), 
	to_status VARCHAR(32) NOT NULL, 
	actor VARCHAR(255) NOT NULL, 
	actor_role VARCHAR(32) NOT NULL, 
	occurred_at DATETIME NOT NULL, 
	rationale TEXT NOT NULL, 
	signed_name VARCHAR(255), 
	signature_meaning VARCHAR(255), 
	CONSTRAINT pk_signal_event PRIMARY KEY (signal_event_id), 
	CONSTRAINT fk_signal_event_signal_id_signal FOREIGN KEY(signal_id) REFERENCES signal (signal_id)
);

CREATE INDEX ix_signal_event_signal_id ON signal_event (signal_id);

CREATE TRIGGER signal_event_no_update BEFORE UPDATE ON signal_event BEGIN SELECT RAISE(ABORT, 'signal_event is append-only: UPDATE is not allowed'); END;

CREATE TRIGGER signal_event_no_delete BEFORE DELETE ON signal_event BEGIN SELECT RAISE(ABORT, 'signal_event is append-only: DELETE is not allowed'); END;

CREATE TABLE icsr_case (
	icsr_case_id INTEGER NOT NULL, 
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
	age DOUBLE, 
	age_unit VARCHAR(32), 
	sex VARCHAR(32), 
	weight DOUBLE, 
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

CREATE TABLE measurement (
	measurement_id INTEGER NOT NULL, 
	code VARCHAR(32) NOT NULL, 
	measured_at DATETIME NOT NULL, 
	has_time BOOLEAN NOT NULL, 
	value DOUBLE, 
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

CREATE TABLE observation (
	observation_id INTEGER NOT NULL, 
	code VARCHAR(32) NOT NULL, 
	observed_at DATETIME NOT NULL, 
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

CREATE TABLE drug_exposure (
	drug_exposure_id INTEGER NOT NULL, 
	drug VARCHAR(32) NOT NULL, 
	drug_class VARCHAR(32), 
	drug_source_value VARCHAR(255), 
	started_at DATETIME, 
	ended_at DATETIME, 
	date_imputation VARCHAR(32), 
	dose DOUBLE, 
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

CREATE TABLE adverse_event (
	adverse_event_id INTEGER NOT NULL, 
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

CREATE TABLE disease_assessment (
	disease_assessment_id INTEGER NOT NULL, 
	assessed_on DATE NOT NULL, 
	assessed_on_source_value VARCHAR(32), 
	date_imputation VARCHAR(32), 
	response VARCHAR(32), 
	is_relapse BOOLEAN NOT NULL, 
	mrd_fraction DOUBLE, 
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

CREATE TABLE infusion (
	infusion_id INTEGER NOT NULL, 
	product_id INTEGER NOT NULL, 
	infusion_number INTEGER NOT NULL, 
	infusion_date DATE NOT NULL, 
	infusion_datetime DATETIME, 
	dose_cells DOUBLE, 
	lymphodepletion VARCHAR(255), 
	day_zero_anchored BOOLEAN DEFAULT 0 NOT NULL, 
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

CREATE TABLE death (
	death_id INTEGER NOT NULL, 
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

CREATE TABLE follow_up (
	follow_up_id INTEGER NOT NULL, 
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

CREATE TABLE icsr_drug (
	icsr_drug_id INTEGER NOT NULL, 
	icsr_case_id INTEGER NOT NULL, 
	drug_seq INTEGER NOT NULL, 
	role VARCHAR(32), 
	drug_name VARCHAR(255) NOT NULL, 
	active_ingredient VARCHAR(255), 
	product_id INTEGER, 
	route VARCHAR(255), 
	dose_amount DOUBLE, 
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

CREATE TABLE icsr_reaction (
	icsr_reaction_id INTEGER NOT NULL, 
	icsr_case_id INTEGER NOT NULL, 
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

CREATE TABLE daily_assessment (
	daily_assessment_id INTEGER NOT NULL, 
	study_day INTEGER NOT NULL, 
	granularity VARCHAR(32) NOT NULL, 
	assessed_at DATETIME NOT NULL, 
	age_years DOUBLE, 
	temp_c_max DOUBLE, 
	crs_treated BOOLEAN, 
	hypotension BOOLEAN, 
	vasopressors VARCHAR(255), 
	o2_device VARCHAR(32), 
	o2_flow_l_min DOUBLE, 
	ice_score DOUBLE, 
	capd_score DOUBLE, 
	loc VARCHAR(32), 
	seizure VARCHAR(32), 
	motor_weakness BOOLEAN, 
	cerebral_edema VARCHAR(32), 
	icp_signs BOOLEAN, 
	sedated BOOLEAN, 
	computed_at DATETIME NOT NULL, 
	infusion_id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_daily_assessment PRIMARY KEY (daily_assessment_id), 
	CONSTRAINT uq_daily_assessment_infusion_id_granularity_assessed_at UNIQUE (infusion_id, granularity, assessed_at), 
	CONSTRAINT ck_daily_assessment_granularity CHECK (granularity IN ('day', 'time_point')), 
	CONSTRAINT fk_daily_assessment_infusion_id_infusion FOREIGN KEY(infusion_id) REFERENCES infusion (infusion_id), 
	CONSTRAINT fk_daily_assessment_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_daily_assessment_subject_day ON daily_assessment (subject_id, study_day);

CREATE TABLE toxicity_episode (
	toxicity_episode_id INTEGER NOT NULL, 
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
	computed_at DATETIME NOT NULL, 
	infusion_id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_toxicity_episode PRIMARY KEY (toxicity_episode_id), 
	CONSTRAINT uq_toxicity_episode_infusion_id_syndrome_criteria_version_episode_number UNIQUE (infusion_id, syndrome, criteria_version, episode_number), 
	CONSTRAINT ck_toxicity_episode_syndrome CHECK (syndrome IN ('crs', 'icans', 'iec_hs', 'icaht', 'relapse', 'other')), 
	CONSTRAINT ck_toxicity_episode_peak_grade CHECK (peak_grade BETWEEN 0 AND 5), 
	CONSTRAINT fk_toxicity_episode_infusion_id_infusion FOREIGN KEY(infusion_id) REFERENCES infusion (infusion_id), 
	CONSTRAINT fk_toxicity_episode_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_toxicity_episode_subject_syndrome ON toxicity_episode (subject_id, syndrome);

CREATE TABLE risk_score (
	risk_score_id INTEGER NOT NULL, 
	score VARCHAR(32) NOT NULL, 
	score_version VARCHAR(32) NOT NULL, 
	timepoint VARCHAR(32) NOT NULL, 
	study_day INTEGER, 
	value DOUBLE, 
	category VARCHAR(32), 
	inputs JSON, 
	reason TEXT, 
	computed_at DATETIME NOT NULL, 
	infusion_id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	CONSTRAINT pk_risk_score PRIMARY KEY (risk_score_id), 
	CONSTRAINT uq_risk_score_infusion_id_score_score_version_timepoint UNIQUE (infusion_id, score, score_version, timepoint), 
	CONSTRAINT fk_risk_score_infusion_id_infusion FOREIGN KEY(infusion_id) REFERENCES infusion (infusion_id), 
	CONSTRAINT fk_risk_score_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (subject_id)
);

CREATE INDEX ix_risk_score_subject_score ON risk_score (subject_id, score);

CREATE TABLE alert (
	alert_id INTEGER NOT NULL, 
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
	raised_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
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

CREATE TABLE toxicity_grade (
	toxicity_grade_id INTEGER NOT NULL, 
	daily_assessment_id INTEGER NOT NULL, 
	study_day INTEGER NOT NULL, 
	syndrome VARCHAR(32) NOT NULL, 
	criteria_version VARCHAR(255) NOT NULL, 
	grade INTEGER, 
	reason TEXT, 
	provisional BOOLEAN NOT NULL, 
	computed_at DATETIME NOT NULL, 
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

CREATE TABLE alert_event (
	alert_event_id INTEGER NOT NULL, 
	alert_id INTEGER NOT NULL, 
	event_type VARCHAR(32) NOT NULL, 
	from_status VARCHAR(32), 
	to_status VARCHAR(32), 
	actor VARCHAR(255) NOT NULL, 
	occurred_at DATETIME NOT NULL, 
	comment_text TEXT, 
	details JSON, 
	CONSTRAINT pk_alert_event PRIMARY KEY (alert_event_id), 
	CONSTRAINT fk_alert_event_alert_id_alert FOREIGN KEY(alert_id) REFERENCES alert (alert_id)
);

CREATE INDEX ix_alert_event_alert_id ON alert_event (alert_id);

CREATE TRIGGER alert_event_no_update BEFORE UPDATE ON alert_event BEGIN SELECT RAISE(ABORT, 'alert_event is append-only: UPDATE is not allowed'); END;

CREATE TRIGGER alert_event_no_delete BEFORE DELETE ON alert_event BEGIN SELECT RAISE(ABORT, 'alert_event is append-only: DELETE is not allowed'); END;
