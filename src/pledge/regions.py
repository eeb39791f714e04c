"""The cloud regions Pledge can name for readers, and the hosting providers it knows by a short code (S1).

The statement prints a region as its provider does ("US West (Oregon)", ``us-west-2``); a region not in this table
needs ``PLEDGE_REGION_NAME``, so a statement never shows a bare code nobody outside the vendor can place.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDERS = {"aws": "Amazon Web Services (AWS)", "gcp": "Google Cloud", "azure": "Microsoft Azure"}
"""Short codes an operator may give as ``PLEDGE_HOSTING_PROVIDER``, and the name the statement prints."""


@dataclass(frozen=True, slots=True)
class Region:
    provider: str
    """A key of :data:`PROVIDERS`."""
    name: str


_AWS = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "us-gov-east-1": "AWS GovCloud (US-East)",
    "us-gov-west-1": "AWS GovCloud (US-West)",
    "af-south-1": "Africa (Cape Town)",
    "ap-east-1": "Asia Pacific (Hong Kong)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-south-2": "Asia Pacific (Hyderabad)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-southeast-3": "Asia Pacific (Jakarta)",
    "ap-southeast-4": "Asia Pacific (Melbourne)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ca-central-1": "Canada (Central)",
    "ca-west-1": "Canada West (Calgary)",
    "eu-central-1": "Europe (Frankfurt)",
    "eu-central-2": "Europe (Zurich)",
    "eu-west-1": "Europe (Ireland)",
    "eu-west-2": "Europe (London)",
    "eu-west-3": "Europe (Paris)",
    "eu-south-1": "Europe (Milan)",
    "eu-south-2": "Europe (Spain)",
    "eu-north-1": "Europe (Stockholm)",
    "il-central-1": "Israel (Tel Aviv)",
    "me-south-1": "Middle East (Bahrain)",
    "me-central-1": "Middle East (UAE)",
    "sa-east-1": "South America (São Paulo)",
}
_GCP = {
    "us-central1": "Iowa",
    "us-east1": "South Carolina",
    "us-east4": "Northern Virginia",
    "us-east5": "Columbus",
    "us-south1": "Dallas",
    "us-west1": "Oregon",
    "us-west2": "Los Angeles",
    "us-west3": "Salt Lake City",
    "us-west4": "Las Vegas",
    "northamerica-northeast1": "Montréal",
    "northamerica-northeast2": "Toronto",
    "southamerica-east1": "São Paulo",
    "europe-west1": "Belgium",
    "europe-west2": "London",
    "europe-west3": "Frankfurt",
    "europe-west4": "Netherlands",
    "europe-west6": "Zurich",
    "europe-west9": "Paris",
    "europe-north1": "Finland",
    "europe-central2": "Warsaw",
    "asia-east1": "Taiwan",
    "asia-east2": "Hong Kong",
    "asia-northeast1": "Tokyo",
    "asia-northeast2": "Osaka",
    "asia-northeast3": "Seoul",
    "asia-south1": "Mumbai",
    "asia-southeast1": "Singapore",
    "asia-southeast2": "Jakarta",
    "australia-southeast1": "Sydney",
    "australia-southeast2": "Melbourne",
}
_AZURE = {
    "eastus": "East US",
    "eastus2": "East US 2",
    "centralus": "Central US",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "canadacentral": "Canada Central",
    "brazilsouth": "Brazil South",
    "northeurope": "North Europe (Ireland)",
    "westeurope": "West Europe (Netherlands)",
    "uksouth": "UK South",
    "francecentral": "France Central",
    "germanywestcentral": "Germany West Central",
    "switzerlandnorth": "Switzerland North",
    "swedencentral": "Sweden Central",
    "australiaeast": "Australia East",
    "japaneast": "Japan East",
    "koreacentral": "Korea Central",
    "centralindia": "Central India",
    "southeastasia": "Southeast Asia (Singapore)",
}
_REGIONS = {
    code: Region(provider, name)
    for provider, names in (("aws", _AWS), ("gcp", _GCP), ("azure", _AZURE))
    for code, name in names.items()
}


def region_of(code: str) -> Region | None:
    """The provider and name of a region code, None when Pledge does not know it."""
    return _REGIONS.get(code)


def provider_code(provider: str | None) -> str | None:
    """The short code of a provider given by code (``aws``), None for any other provider or none."""
    code = (provider or "").strip().lower()
    return code if code in PROVIDERS else None


def provider_name(provider: str | None) -> str | None:
    """The provider's name as the statement prints it: a known code expanded, any other name as given."""
    if provider is None:
        return None
    code = provider_code(provider)
    return PROVIDERS[code] if code is not None else provider
