"""Reference vocabularies every service validates against: districts, diets, allergens, groups."""

# Hangzhou's ten districts, two counties and one county-level city (杭州市行政区划)
DISTRICTS: dict[str, str] = {
    "shangcheng": "上城区",
    "gongshu": "拱墅区",
    "xihu": "西湖区",
    "binjiang": "滨江区",
    "xiaoshan": "萧山区",
    "yuhang": "余杭区",
    "linping": "临平区",
    "qiantang": "钱塘区",
    "fuyang": "富阳区",
    "linan": "临安区",
    "tonglu": "桐庐县",
    "chunan": "淳安县",
    "jiande": "建德市",
}
DIET_VARIANTS: dict[str, str] = {
    "regular": "普通",
    "low_salt": "低盐",
    "low_sugar": "低糖",
    "soft": "软食",
    "minced": "碎食",
    "pureed": "糊状",
}
ALLERGENS: dict[str, str] = {
    "fish": "鱼",
    "shellfish": "虾蟹",
    "egg": "蛋",
    "milk": "奶",
    "peanut": "花生",
    "soy": "大豆",
    "gluten": "麸质",
}
GROUPS: dict[str, str] = {"dibao": "低保", "dibian": "低边", "tekun": "特困", "shineng": "失能", "gaoling": "高龄"}
MEAL_SLOTS: dict[str, str] = {"breakfast": "早餐", "lunch": "午餐", "dinner": "晚餐"}
