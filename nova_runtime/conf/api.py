"""[api]: how nova-api authenticates requests and shapes its answers."""

from oslo_config import cfg, types

GROUP = "api"

opts = [
    cfg.StrOpt(
        "auth_strategy", default="keystone", choices=("keystone", "noauth2"),
        help="keystone: validate tokens with keystonemiddleware ([keystone_authtoken]). "
             "noauth2: trust the X-Auth-Token 'user:project' form; for tests only."),
    cfg.IntOpt(
        "max_limit", default=1000, min=1,
        help="The most items a collection (flavors, keypairs, hypervisors...) returns "
             "in one response; clients page with limit and marker."),
    cfg.URIOpt(
        "compute_link_prefix",
        help="Base URL put in links instead of the request's host URL, for a nova-api "
             "behind a proxy (e.g. https://cloud.example.com:8774)."),
    cfg.BoolOpt(
        "use_forwarded_for", default=False,
        help="Take the client address from X-Forwarded-For. Only behind a trusted proxy."),
    # --- the metadata API and the config drive (nova_runtime/metadata) ---
    cfg.StrOpt(
        "dhcp_domain", default="novalocal",
        help="Domain appended to an instance's hostname in its metadata "
             "(web-1.novalocal); empty for the bare hostname."),
    cfg.IntOpt(
        "metadata_cache_expiration", default=15, min=0,
        help="Seconds for which the metadata API keeps what it read about an instance; "
             "0 reads the databases on every request."),
    cfg.ListOpt(
        "vendordata_providers", item_type=types.String(choices=("StaticJSON",)),
        default=["StaticJSON"],
        help="Sources of vendor data. StaticJSON: the file vendordata_jsonfile_path, served "
             "as vendor_data.json and as 'static' in vendor_data2.json. Upstream's "
             "DynamicJSON (an external REST service) is not offered."),
    cfg.StrOpt(
        "vendordata_jsonfile_path",
        help="A JSON file whose object every instance gets as vendor data; unset: {}."),
    cfg.ListOpt(
        "config_drive_skip_versions",
        default=["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10",
                 "2007-12-15", "2008-02-01", "2008-09-01"],
        help="EC2 metadata versions left out of the config drive (ec2/latest is always "
             "written)."),
    cfg.BoolOpt(
        "list_records_by_skipping_down_cells", default=True,
        help="Listings that span cells (services, hypervisors) leave out the records of a "
             "cell whose database does not answer instead of failing with 500."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
